namespace Latch.Rig;

/// <summary>
/// The cached Debian root filesystem every VM boots from, built by scripts/rootfs.sh (the first call on a
/// machine takes about a minute; later ones find the cache). VMs overlay it read-only.
/// </summary>
internal static class RootFs
{
    private static readonly SemaphoreSlim s_gate = new(1, 1);
    private static string? s_tree;

    /// <summary>The extracted rootfs tree (an overlayfs lower layer; never write into it).</summary>
    public static Task<string> EnsureAsync(CancellationToken cancellationToken = default) => EnsureAsync(null, cancellationToken);

    /// <summary>
    /// As <see cref="EnsureAsync(CancellationToken)"/>; <paramref name="progress"/> receives each line scripts/rootfs.sh
    /// prints on stderr while it builds (nothing when the cache is there), so a long first build can show where it is.
    /// </summary>
    public static async Task<string> EnsureAsync(Action<string>? progress, CancellationToken cancellationToken = default)
    {
        if (s_tree is not null)
        {
            return s_tree;
        }

        await s_gate.WaitAsync(cancellationToken);
        try
        {
            if (s_tree is null)
            {
                var result = await Command.RunAsync(
                    ["bash", RepoPaths.RootFsScript], timeout: TimeSpan.FromMinutes(15), cancellationToken: cancellationToken, onStderrLine: progress);
                var tree = result.Stdout.Trim();
                if (!result.Succeeded || !Directory.Exists(tree))
                {
                    throw new RigException($"scripts/rootfs.sh failed (exit {result.ExitCode}): {result.Stderr.Trim()}");
                }

                s_tree = tree;
            }

            return s_tree;
        }
        finally
        {
            s_gate.Release();
        }
    }
}
