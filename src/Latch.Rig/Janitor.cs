using System.Globalization;

namespace Latch.Rig;

/// <summary>
/// The crash safety net. Every <see cref="AzureHost"/> writes /run/latch-rig/ID.owner (owner pid, its start
/// time, its directory) before it creates anything; at fixture start, the rig removes what a dead owner left:
/// processes in its namespaces (lt-*-ID), the namespaces, swap, mounts and loop devices backed by files under its
/// directory, and the directory. Hosts whose owner is
/// alive, and lt-* names without an owner file, are never touched.
/// </summary>
internal static class Janitor
{
    public const string OwnerDirectory = "/run/latch-rig";
    private static readonly SemaphoreSlim s_gate = new(1, 1);
    private static bool s_swept;

    public static string OwnerFile(string id) => Path.Combine(OwnerDirectory, id + ".owner");

    public static void WriteOwner(string id, string directory)
    {
        Directory.CreateDirectory(OwnerDirectory);
        var pid = Environment.ProcessId;
        File.WriteAllText(OwnerFile(id), $"pid={pid}\nstart={StartTime(pid)}\ndir={directory}\n");
    }

    public static void RemoveOwner(string id) => File.Delete(OwnerFile(id));

    /// <summary>Sweeps once per test process (later calls return at once).</summary>
    public static async Task SweepOnceAsync(CancellationToken cancellationToken = default)
    {
        await s_gate.WaitAsync(cancellationToken);
        try
        {
            if (!s_swept)
            {
                await SweepAsync(cancellationToken);
                s_swept = true;
            }
        }
        finally
        {
            s_gate.Release();
        }
    }

    /// <summary>
    /// Cleans every rig whose owner process is gone; returns the ids it cleaned. Test processes running at the
    /// same time sweep one after the other (an exclusive lock on a file), so no two clean the same run.
    /// </summary>
    public static async Task<IReadOnlyList<string>> SweepAsync(CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(OwnerDirectory);
        using var sweepLock = await LockAsync(cancellationToken);
        var cleaned = new List<string>();
        foreach (var file in Directory.EnumerateFiles(OwnerDirectory, "*.owner"))
        {
            var id = Path.GetFileNameWithoutExtension(file);
            var fields = ReadFields(file);
            if (fields is null || OwnerAlive(fields))
            {
                continue;
            }

            await CleanAsync(id, fields.GetValueOrDefault("dir"), cancellationToken);
            File.Delete(file);
            cleaned.Add(id);
        }

        return cleaned;
    }

    private static async Task<FileStream> LockAsync(CancellationToken cancellationToken)
    {
        var path = Path.Combine(OwnerDirectory, ".sweep.lock");
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                // FileShare.None is an exclusive flock on Linux, released if the holder dies
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (attempt < 600)
            {
                await Task.Delay(100, cancellationToken);
            }
        }
    }

    private static async Task CleanAsync(string id, string? directory, CancellationToken cancellationToken)
    {
        foreach (var ns in await NetNs.ListAsync(cancellationToken))
        {
            if (ns.StartsWith("lt-", StringComparison.Ordinal) && ns.EndsWith("-" + id, StringComparison.Ordinal))
            {
                await NetNs.DeleteAsync(ns, cancellationToken);
            }
        }

        // only the rig's own directory layout, never an arbitrary path from a tampered file
        if (directory is not null && Path.GetFileName(directory) == "lt-" + id && Directory.Exists(directory))
        {
            // swap keeps a file system busy, and a mounted loop device cannot be detached: swap, mounts, then loops
            var teardown = new Teardown("the dead run " + id);
            await teardown.RemoveDirectoryAsync(directory);
            teardown.ThrowIfFailed();
        }
    }

    private static Dictionary<string, string>? ReadFields(string file)
    {
        try
        {
            return File.ReadAllLines(file)
                .Select(l => l.Split('=', 2))
                .Where(p => p.Length == 2)
                .ToDictionary(p => p[0], p => p[1]);
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static bool OwnerAlive(Dictionary<string, string> fields) =>
        int.TryParse(fields.GetValueOrDefault("pid"), CultureInfo.InvariantCulture, out var pid)
        && StartTime(pid) is { } start
        && start == fields.GetValueOrDefault("start");

    /// <summary>The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or null when it is gone.</summary>
    public static string? StartTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // the command name (field 2) may hold spaces and parentheses: count from the last ')'
            var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return rest[19];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }
}
