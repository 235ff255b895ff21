using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Latch.Agent.Daemon;

/// <summary>
/// Once the daemon is idle: a compacting GC that gives unused heap back to the OS, then MADV_PAGEOUT on the clean,
/// read-only file mappings (latchd's own code and data, libc). Start-up touched far more code than the idle loop runs;
/// those pages would stay resident until memory pressure. What the idle loop does need faults back in from the file.
/// </summary>
/// <remarks>
/// It runs on its own thread, and the page-out is the last thing that thread does before it only waits for the stop:
/// code that runs after a page-out faults its pages back (with the kernel's fault-around, 64 kB at a time), so the
/// log line and the GC come first, then a pause for the other threads to settle (the thread pool's gate thread
/// polls for a while after the last work item), then the page-out, with nothing after it.
/// </remarks>
internal static class IdleTrim
{
    // the guard's first pass over the store runs in its first moments; after that the daemon only waits
    private static readonly TimeSpan s_after = TimeSpan.FromSeconds(3);

    // long enough for the thread pool's gate thread to stop polling after the last work item
    private static readonly TimeSpan s_settle = TimeSpan.FromSeconds(2);

    /// <summary>Starts the trim thread: 3 s from now, then once; it ends when <paramref name="stop"/> fires.</summary>
    public static Thread Start(ILogger logger, CancellationToken stop)
    {
        var thread = new Thread(() => Run(logger, stop)) { IsBackground = true, Name = "latchd idle trim" };
        thread.Start();
        return thread;
    }

    private static void Run(ILogger logger, CancellationToken stop)
    {
        var stopped = stop.WaitHandle;
        if (stopped.WaitOne(s_after))
        {
            return;
        }

        var before = ResidentKb();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var ranges = ReadOnlyFileMappings();
        Log.IdleTrimmed(logger, before / 1024.0, ranges.Count);
        if (stopped.WaitOne(s_settle))
        {
            return;
        }

        foreach (var (start, length) in ranges)
        {
            _ = Interop.Memory.Advise(start, length, Interop.Memory.MadvPageOut);
        }

        stopped.WaitOne();
    }

    /// <summary>The clean, read-only file mappings of this process (start, length), from /proc/self/maps.</summary>
    private static List<(nint Start, nuint Length)> ReadOnlyFileMappings()
    {
        var ranges = new List<(nint, nuint)>();
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
            ranges.Add(((nint)start, (nuint)(end - start)));
        }

        return ranges;
    }

    private static long ResidentKb() => StatusKb("VmRSS:");

    /// <summary>A kB field of /proc/self/status (e.g. "VmHWM:", this image's peak resident memory); 0 when absent.</summary>
    internal static long StatusKb(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(field, StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }
}
