using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Latch.Bench.Guard;

/// <summary>
/// <c>guard LATCHD EMULATOR_DLL</c>: macro benchmarks of the key guard with the real NativeAOT latchd, as processes:
/// AuthorizedKeysCommand latency per call including process start (next to an EC2-Instance-Connect-style shell +
/// curl script against the emulator's IMDS, and /bin/true as the harness's own cost), restore latency after an
/// overwrite with `latchd guard watch`, and the idle guard's RSS and CPU. Needs root (a home owned by another uid).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class GuardBench
{
    private const uint Uid = 24680;
    private const string Eic = """
        #!/bin/sh
        # EC2 Instance Connect's shape (eic_curl_authorized_keys): curl -m 1 to the metadata service, per login, then filter
        keys=$(curl -s -f -m 1 -H Metadata:true "$IMDS/metadata/instance/compute/publicKeys?api-version=2021-02-01") || exit 0
        printf '%s\n' "$keys" | tr '{' '\n' | sed -n 's/.*"keyData":"\([^"]*\)".*/\1/p'
        """;

    public static int Run(string latchd, string emulatorDll)
    {
        var calls = Int("LATCH_BENCH_AKC_CALLS", 1000);
        var restores = Int("LATCH_BENCH_RESTORES", 200);
        var idleSeconds = Int("LATCH_BENCH_IDLE_SECONDS", 60);
        var root = "/run/latch-bench-" + Environment.ProcessId;
        Directory.CreateDirectory(root);
        File.SetUnixFileMode(root, (UnixFileMode)0b111_101_101);
        Process? emulator = null;
        Process? watch = null;
        try
        {
            var managed = MakeKey(root, "managed");
            var hostile = MakeKey(root, "hostile");
            var home = root + "/home/alice";
            Directory.CreateDirectory(home + "/.ssh");
            Exec("chown", "-R", $"{Uid}:{Uid}", home);
            File.SetUnixFileMode(home, (UnixFileMode)0b111_000_000);
            File.WriteAllText(root + "/passwd", $"alice:x:{Uid}:{Uid}::{home}:/bin/sh\n");
            File.WriteAllText(root + "/latchd.toml", $"""
                [guard]
                store_dir = "{root}/keys"
                audit_log = "{root}/audit.jsonl"
                socket = "{root}/latchd.sock"
                passwd_file = "{root}/passwd"
                """);
            var config = root + "/latchd.toml";
            Exec(latchd, "keys", "add", "alice", managed, "--config", config);
            var parts = managed.Split(' ');
            var fingerprint = Exec("ssh-keygen", "-l", "-f", root + "/managed.pub").Split(' ')[1];

            emulator = StartEmulator(root, emulatorDll, managed, out var imds);
            File.WriteAllText(root + "/eic.sh", Eic);
            File.SetUnixFileMode(root + "/eic.sh", (UnixFileMode)0b111_101_101);

            var rows = new List<string[]> { new[] { "measure", "p50", "p99", "goal", "verdict" } };
            var baseline = Time(calls, "/bin/true", []);
            rows.Add(Row("process start only (/bin/true, the harness's cost)", baseline, null));
            var akc = Time(calls, latchd, ["authorized-keys", "--store", root + "/keys", "alice", fingerprint, parts[0], parts[1]]);
            rows.Add(Row("AKC: latchd authorized-keys %u %f %t %k (full latchd)", akc, null));
            var akc2 = Path.Combine(Path.GetDirectoryName(latchd)!, "latch-akc");
            var small = Time(calls, akc2, ["--store", root + "/keys", "alice", fingerprint, parts[0], parts[1]]);
            rows.Add(Row("AKC: latch-akc %u %f %t %k (the installed one)", small, 5.0));
            var smallAll = Time(calls, akc2, ["--store", root + "/keys", "alice"]);
            rows.Add(Row("AKC: latch-akc %u (prints all keys)", smallAll, 5.0));
            var eic = Time(calls, "/bin/sh", [root + "/eic.sh", "alice"], new Dictionary<string, string> { ["IMDS"] = imds });
            rows.Add(Row("EIC-style: sh + curl to the emulator's IMDS", eic, null));

            watch = Start(latchd, ["guard", "watch", "--config", config]);
            WaitFor(() => File.Exists(home + "/.ssh/authorized_keys") && File.ReadAllText(home + "/.ssh/authorized_keys").Contains(managed, StringComparison.Ordinal), "the first restore");
            var restoreTimes = new List<double>();
            for (var i = 0; i < restores; i++)
            {
                var path = home + "/.ssh/authorized_keys";
                File.WriteAllText(path, hostile + "\n");
                var started = Stopwatch.GetTimestamp();
                WaitFor(() => File.ReadAllText(path).Contains(managed, StringComparison.Ordinal), "a restore");
                restoreTimes.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                Thread.Sleep(30);
            }

            rows.Add(Row("restore after an overwrite (guard watch, 20 ms quiet window)", restoreTimes, 100.0));

            var (cpuBefore, _) = ProcStat(watch.Id);
            Thread.Sleep(TimeSpan.FromSeconds(idleSeconds));
            var (cpuAfter, rssKb) = ProcStat(watch.Id);
            var cpuPerHour = (cpuAfter - cpuBefore) * 3600.0 / idleSeconds;
            rows.Add(["guard idle RSS (MiB)", (rssKb / 1024.0).ToString("0.0", CultureInfo.InvariantCulture), "-", "-", "-"]);
            rows.Add([$"guard idle CPU (s per hour, measured over {idleSeconds} s)", cpuPerHour.ToString("0.00", CultureInfo.InvariantCulture), "-", "-", "-"]);
            Print(rows);
            return rows.Any(r => r[4] == "SLOW") ? 1 : 0;
        }
        finally
        {
            foreach (var process in new[] { watch, emulator })
            {
                if (process is { HasExited: false })
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(10_000);
                }

                process?.Dispose();
            }

            Exec("rm", "-rf", "--one-file-system", root);
        }
    }

    private static List<double> Time(int calls, string program, string[] args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var times = new List<double>(calls);
        for (var i = 0; i < calls + 20; i++)
        {
            var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var arg in args)
            {
                start.ArgumentList.Add(arg);
            }

            foreach (var (key, value) in environment ?? new Dictionary<string, string>())
            {
                start.Environment[key] = value;
            }

            var started = Stopwatch.GetTimestamp();
            using var process = Process.Start(start)!;
            process.StandardOutput.ReadToEnd();
            process.StandardError.ReadToEnd();
            process.WaitForExit();
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            if (i >= 20)
            {
                times.Add(elapsed);
            }
        }

        return times;
    }

    private static string[] Row(string name, List<double> times, double? goalMs)
    {
        times.Sort();
        var p50 = times[times.Count / 2];
        var p99 = times[Math.Min(times.Count - 1, (int)Math.Ceiling(times.Count * 0.99) - 1)];
        var verdict = goalMs is null ? "-" : p99 <= goalMs ? "ok" : "SLOW";
        return [name, Ms(p50), Ms(p99), goalMs is null ? "-" : "p99 <= " + Ms(goalMs.Value), verdict];
    }

    private static string Ms(double value) => value.ToString("0.00", CultureInfo.InvariantCulture) + " ms";

    private static void Print(List<string[]> rows)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        foreach (var row in rows)
        {
            Console.WriteLine(string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd());
        }
    }

    private static (double CpuSeconds, long RssKb) ProcStat(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        var rss = File.ReadAllLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return (ticks / 100.0, long.Parse(rss.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture));
    }

    private static Process StartEmulator(string root, string dll, string key, out string imds)
    {
        File.WriteAllText(root + "/scenario.json", $$"""{"vms":[{"name":"vm1","adminUsername":"alice","publicKeys":[{"keyData":"{{key}}","path":"/home/alice/.ssh/authorized_keys"}]}]}""");
        var process = Start("dotnet", [dll, "--scenario", root + "/scenario.json", "--imds", "127.0.0.1:0", "--wireserver", "127.0.0.1:0", "--control", "127.0.0.1:0", "--state-dir", root + "/emulator", "--log-level", "Warning"]);
        string? found = null;
        while (process.StandardOutput.ReadLine() is { } line && line.Trim() != "ready")
        {
            if (line.StartsWith("imds ", StringComparison.Ordinal))
            {
                found = line[5..].Trim().TrimEnd('/');
            }
        }

        imds = found ?? throw new InvalidOperationException("the emulator printed no imds endpoint");
        // its request log keeps coming: drain it so the emulator never blocks on a full pipe
        _ = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
        return process;
    }

    private static Process Start(string program, string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = false, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return Process.Start(start)!;
    }

    private static string MakeKey(string root, string name)
    {
        Exec("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", $"{root}/{name}");
        return File.ReadAllText($"{root}/{name}.pub").Trim();
    }

    private static string Exec(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 ? output : throw new InvalidOperationException($"{program} {string.Join(' ', args)} failed: {error}");
    }

    private static void WaitFor(Func<bool> condition, string what)
    {
        var deadline = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 30);
        while (!condition())
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"{what} did not happen within 30 s");
            }

            Thread.SpinWait(2000);
        }
    }

    private static int Int(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : fallback;
}
