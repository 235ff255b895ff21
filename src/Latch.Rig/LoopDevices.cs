namespace Latch.Rig;

/// <summary>
/// Loop devices and swap a rig run attached to files under its directory (resource-disk images, provisioning ISOs).
/// A test that is killed never runs its own <c>losetup -d</c>, so the janitor detaches them by backing file.
/// </summary>
internal static class LoopDevices
{
    /// <summary>/dev/loopN of every loop device whose backing file is at or below <paramref name="directory"/>.</summary>
    public static IReadOnlyList<string> Under(string directory)
    {
        var prefix = directory.TrimEnd('/') + "/";
        var found = new List<string>();
        if (!Directory.Exists("/sys/block"))
        {
            return found;
        }

        foreach (var device in Directory.EnumerateDirectories("/sys/block", "loop*"))
        {
            string backing;
            try
            {
                backing = File.ReadAllText(Path.Combine(device, "loop", "backing_file")).TrimEnd('\n');
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;   // not attached
            }

            // a backing file removed since shows as "PATH (deleted)"
            const string deleted = " (deleted)";
            if (backing.EndsWith(deleted, StringComparison.Ordinal))
            {
                backing = backing[..^deleted.Length];
            }

            if (backing.StartsWith(prefix, StringComparison.Ordinal))
            {
                found.Add("/dev/" + Path.GetFileName(device));
            }
        }

        return found;
    }

    /// <summary>Swap areas (files or loop devices) that live under <paramref name="directory"/>, as /proc/swaps names them.</summary>
    public static IReadOnlyList<string> SwapUnder(string directory)
    {
        var prefix = directory.TrimEnd('/') + "/";
        var loops = Under(directory);
        return [.. File.ReadLines("/proc/swaps").Skip(1)
            .Select(l => l.Split([' ', '\t'], 2, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "")
            .Where(f => f.StartsWith(prefix, StringComparison.Ordinal) || loops.Contains(f))];
    }

    /// <summary>swapoff what swaps under the directory (before its file systems are unmounted).</summary>
    public static async Task SwapOffUnderAsync(string directory, CancellationToken cancellationToken = default)
    {
        foreach (var swap in SwapUnder(directory))
        {
            await Command.RunAsync(["swapoff", swap], cancellationToken: cancellationToken);
        }
    }

    /// <summary>
    /// Detaches every loop device backed by a file under the directory (after unmounting it); returns what is still
    /// attached after up to 30 seconds. A device something still holds open (udev's probe, a test's own detach in
    /// flight) is only marked to detach on its last close, so the backing files are watched for a while.
    /// </summary>
    public static async Task<IReadOnlyList<string>> DetachUnderAsync(string directory, CancellationToken cancellationToken = default)
    {
        foreach (var loop in Under(directory))
        {
            await Command.RunAsync(["losetup", "-d", loop], cancellationToken: cancellationToken);
        }

        // up to 30 s: on a loaded machine a VM's last mount namespace can hold the device that long; the detach is asked
        // again every second in case the first one came before the device was marked
        var left = Under(directory);
        for (var wait = 1; left.Count > 0 && wait <= 300; wait++)
        {
            await Task.Delay(100, cancellationToken);
            left = Under(directory);
            if (wait % 10 == 0)
            {
                foreach (var loop in left)
                {
                    await Command.RunAsync(["losetup", "-d", loop], cancellationToken: cancellationToken);
                }
            }
        }

        return left;
    }
}
