using System.Globalization;

namespace Latch.Agent.Os;

/// <summary>
/// A swap file on the resource disk: root 0600, allocated for real (fallocate, else dd: swapon refuses a file with
/// holes), mkswap, swapon. Already on with the right size: only its mode is checked. Off but the right size (after a
/// reboot): swapon again. Another size: swapoff, made again.
/// </summary>
internal sealed class SwapFile(HostSystem system, string path, int sizeMb)
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Null when the swap file is on; else what failed.</summary>
    public async Task<string?> EnsureAsync(CancellationToken cancellationToken = default)
    {
        var bytes = (long)sizeMb * 1024 * 1024;
        var host = system.PathOf(path);
        var exists = File.Exists(host) && new FileInfo(host).LinkTarget is null;
        if (exists && new FileInfo(host).Length == bytes)
        {
            File.SetUnixFileMode(host, OwnerOnly);
            if (IsActive())
            {
                return null;
            }

            if (await RunAsync(["swapon", path], cancellationToken).ConfigureAwait(false) is null)
            {
                return null;
            }
        }

        if (IsActive())
        {
            await RunAsync(["swapoff", path], cancellationToken).ConfigureAwait(false);
        }

        // fallocate is quick; some kernels refuse such a file for swap ("has holes"), so dd is the fallback
        if (await CreateAsync(host, useDd: false, cancellationToken).ConfigureAwait(false) is null
            && await RunAsync(["mkswap", path], cancellationToken).ConfigureAwait(false) is null
            && await RunAsync(["swapon", path], cancellationToken).ConfigureAwait(false) is null)
        {
            return null;
        }

        return await CreateAsync(host, useDd: true, cancellationToken).ConfigureAwait(false)
            ?? await RunAsync(["mkswap", path], cancellationToken).ConfigureAwait(false)
            ?? await RunAsync(["swapon", path], cancellationToken).ConfigureAwait(false);
    }

    private async Task<string?> CreateAsync(string host, bool useDd, CancellationToken cancellationToken)
    {
        File.Delete(host);
        new FileStream(host, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = OwnerOnly }).Dispose();
        var error = useDd
            ? await RunAsync(["dd", "if=/dev/zero", "of=" + path, "bs=1M", "count=" + sizeMb.ToString(CultureInfo.InvariantCulture), "conv=notrunc,fsync", "status=none"], cancellationToken).ConfigureAwait(false)
            : await RunAsync(["fallocate", "-l", ((long)sizeMb * 1024 * 1024).ToString(CultureInfo.InvariantCulture), path], cancellationToken).ConfigureAwait(false);
        if (error is not null)
        {
            File.Delete(host);
        }

        return error;
    }

    /// <summary>True when /proc/swaps lists the file (paths there are as this process sees them).</summary>
    public bool IsActive() =>
        (system.TryReadText("/proc/swaps") ?? "").Split('\n').Skip(1).Any(l => l.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries) is [var name, ..] && name == path);

    private async Task<string?> RunAsync(IReadOnlyList<string> argv, CancellationToken cancellationToken)
    {
        var result = await system.RunAsync(argv, cancellationToken: cancellationToken).ConfigureAwait(false);
        return result.Succeeded ? null : $"{string.Join(' ', argv)} exited {result.ExitCode}: {result.Output}";
    }
}
