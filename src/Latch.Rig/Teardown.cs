namespace Latch.Rig;

/// <summary>
/// The rig's teardown discipline in one place (shared by <see cref="Vm"/> and <see cref="AzureHost"/>): every step runs
/// even when an earlier one failed, failures are collected rather than swallowed and thrown together at the end, and a
/// second dispose does nothing.
/// </summary>
internal sealed class Teardown(string what)
{
    private readonly List<Exception> _errors = [];

    /// <summary>True for the first caller only: the guard of an idempotent DisposeAsync.</summary>
    public static bool First(ref int disposed) => Interlocked.Exchange(ref disposed, 1) == 0;

    public async Task StepAsync(Func<Task> step)
    {
        try
        {
            await step();
        }
        catch (Exception e) when (e is RigException or AggregateException or IOException or UnauthorizedAccessException or TimeoutException or InvalidOperationException)
        {
            _errors.Add(e);
        }
    }

    /// <summary>The last step of a VM or host: swap off, unmount, detach loop devices under the directory, delete it.</summary>
    public Task RemoveDirectoryAsync(string directory) => StepAsync(async () =>
    {
        await LoopDevices.SwapOffUnderAsync(directory);
        Mounts.UnmountAll(directory);
        var attached = await LoopDevices.DetachUnderAsync(directory);
        if (attached.Count > 0)
        {
            throw new RigException($"could not detach {string.Join(", ", attached)} (backed by files under {directory}); run losetup -d by hand");
        }

        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }
    });

    /// <summary>Throws an <see cref="AggregateException"/> of every failed step, if any failed.</summary>
    public void ThrowIfFailed(string? hint = null)
    {
        if (_errors.Count > 0)
        {
            throw new AggregateException($"tearing down {what} left something behind{hint}", _errors);
        }
    }
}
