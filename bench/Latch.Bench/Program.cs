using System.Globalization;
using System.Reflection;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Latch.Bench;

internal static class Program
{
    /// <summary>
    /// <c>core</c>: Latch.Core micro-benchmarks with a short job, then a plain table of mean, allocation, goal
    /// and verdict. Anything else goes to BenchmarkDotNet's own switcher (e.g. <c>--filter '*'</c>).
    /// </summary>
    private static int Main(string[] args)
    {
        if (args is ["core", ..])
        {
            var config = ManualConfig.Create(DefaultConfig.Instance)
                .AddJob(Job.ShortRun)
                .AddDiagnoser(MemoryDiagnoser.Default)
                .WithOptions(ConfigOptions.DisableLogFile);
            var summary = BenchmarkRunner.Run<KeysBenchmarks>(config);
            return PrintTable(summary);
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }

    private static int PrintTable(Summary summary)
    {
        var rows = new List<string[]> { new[] { "operation", "mean", "allocated", "goal", "verdict" } };
        var failures = 0;
        foreach (var report in summary.Reports)
        {
            var method = report.BenchmarkCase.Descriptor.WorkloadMethod;
            var goal = method.GetCustomAttribute<GoalAttribute>();
            var mean = report.ResultStatistics?.Mean;
            var allocated = report.GcStats.GetBytesAllocatedPerOperation(report.BenchmarkCase);
            var verdict = mean is null ? "FAILED" : goal is null ? "-" : mean <= goal.Nanoseconds ? "ok" : "SLOW";
            if (verdict is "FAILED" or "SLOW")
            {
                failures++;
            }

            rows.Add([
                report.BenchmarkCase.Descriptor.WorkloadMethodDisplayInfo,
                mean is null ? "-" : FormatTime(mean.Value),
                allocated is null ? "-" : FormatBytes(allocated.Value),
                goal?.Text ?? "-",
                verdict,
            ]);
        }

        var widths = Enumerable.Range(0, 5).Select(c => rows.Max(r => r[c].Length)).ToArray();
        Console.WriteLine();
        foreach (var row in rows)
        {
            Console.WriteLine(string.Join("  ", row.Select((cell, c) => c is 1 or 2 ? cell.PadLeft(widths[c]) : cell.PadRight(widths[c]))).TrimEnd());
        }

        return failures == 0 ? 0 : 1;
    }

    private static string FormatTime(double nanoseconds) => nanoseconds switch
    {
        >= 1_000_000 => (nanoseconds / 1_000_000).ToString("0.00", CultureInfo.InvariantCulture) + " ms",
        >= 1_000 => (nanoseconds / 1_000).ToString("0.00", CultureInfo.InvariantCulture) + " us",
        _ => nanoseconds.ToString("0.0", CultureInfo.InvariantCulture) + " ns",
    };

    private static string FormatBytes(long bytes) => bytes switch
    {
        >= 1 << 20 => (bytes / (double)(1 << 20)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB",
        >= 1 << 10 => (bytes / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " KiB",
        _ => bytes.ToString(CultureInfo.InvariantCulture) + " B",
    };
}
