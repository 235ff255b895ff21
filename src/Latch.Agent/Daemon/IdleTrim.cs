using System.Globalization;

namespace Latch.Agent.Daemon;

/// <summary>
/// Once the daemon is idle: a compacting GC that gives unused heap back to the OS, then MADV_PAGEOUT on the clean,
/// read-only file mappings (latchd's own code and data, libraries only latchd maps). Start-up and provisioning touched
/// far more code than the idle loop runs; those pages would stay resident until memory pressure. What the idle loop
/// does need faults back in from the file. Shared pages (mapped by other processes too) are left by the kernel.
/// </summary>
internal static class IdleTrim
{
    /// <summary>Returns the kB of resident memory before and after (VmRSS).</summary>
    public static (long Before, long After) Run()
    {
        var before = ResidentKb();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            // start-end perms offset dev inode path
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 6 || fields[1].Contains('w', StringComparison.Ordinal) || !fields[5].StartsWith('/'))
            {
                continue;
            }

            var range = fields[0].Split('-');
            var start = long.Parse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var end = long.Parse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            _ = Interop.Memory.Advise((nint)start, (nuint)(end - start), Interop.Memory.MadvPageOut);
        }

        return (before, ResidentKb());
    }

    private static long ResidentKb()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }
}
