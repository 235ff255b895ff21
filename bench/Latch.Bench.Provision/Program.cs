using System.Globalization;
using System.Runtime.Versioning;
using System.Text.Json;
using Latch.Rig;

[assembly: SupportedOSPlatform("linux")]

namespace Latch.Bench.Provision;

/// <summary>
/// bench/run.sh provision: boots rig VMs against one emulator and measures, per agent, the time from starting the agent
/// process to the emulator recording its Ready health report, and the agent's peak and idle resident memory.
/// latchd runs as the service (<c>latchd run</c>: full provisioning, then idle); waagent runs as Debian starts it
/// (<c>waagent -daemon</c>, Provisioning.Agent=disabled as the rig must: it only reports Ready). For a like-for-like
/// row latchd also runs with Provisioning.Agent=disabled.
/// </summary>
internal static class Program
{
    // LATCH_BENCH_ROUNDS, LATCH_BENCH_LATCHD_ONLY=1, LATCH_BENCH_LATCHD_ENV="DOTNET_X=1 …" and LATCH_BENCH_LATCHD_ALT=PATH
    // (another latchd binary measured in the same rounds) are for trying changes quickly
    private static readonly int Rounds = int.TryParse(Environment.GetEnvironmentVariable("LATCH_BENCH_ROUNDS"), out var rounds) && rounds > 0 ? rounds : 5;
    private static readonly string[] s_latchdEnvironment = (Environment.GetEnvironmentVariable("LATCH_BENCH_LATCHD_ENV") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);
    private static readonly string? s_alternative = Environment.GetEnvironmentVariable("LATCH_BENCH_LATCHD_ALT") is { Length: > 0 } alt ? Path.GetFullPath(alt) : null;
    private static readonly TimeSpan s_idleWait = TimeSpan.FromSeconds(10);

    private static async Task<int> Main()
    {
        if (Environment.UserName != "root")
        {
            Console.Error.WriteLine("bench provision needs root (network namespaces, mounts)");
            return 2;
        }

        await Latchd.EnsurePublishedAsync();
        var agents = new List<Agent>
        {
            new("latchd run (provisions)", vm => PrepareLatchdAsync(vm, Latchd.VmPath, provision: true), StartLatchd),
            new("latchd run (Agent=disabled)", vm => PrepareLatchdAsync(vm, Latchd.VmPath, provision: false), StartLatchd),
        };
        if (s_alternative is not null)
        {
            // an A/B candidate, measured in the same rounds (LATCH_BENCH_LATCHD_ALT=/path/to/another/latchd)
            agents.Add(new("alt latchd run (provisions)", vm => PrepareLatchdAsync(vm, s_alternative, provision: true), StartLatchd));
            agents.Add(new("alt latchd run (Agent=disabled)", vm => PrepareLatchdAsync(vm, s_alternative, provision: false), StartLatchd));
        }

        if (Environment.GetEnvironmentVariable("LATCH_BENCH_LATCHD_ONLY") != "1")
        {
            agents.Add(new("waagent -daemon (Agent=disabled)", vm => Waagent.ConfigureAsync(vm), Waagent.Start));
        }

        // rounds interleave the agents, so a change in the machine's load falls on all of them alike, and each round
        // starts with the next agent, so none always runs first (right after the previous round's teardown)
        var load = File.ReadAllText("/proc/loadavg").Split(' ')[..3];
        var samples = agents.ToDictionary(a => a.Name, _ => new List<Sample>());
        for (var round = 0; round < Rounds; round++)
        {
            foreach (var agent in agents.Skip(round % agents.Count).Concat(agents.Take(round % agents.Count)))
            {
                samples[agent.Name].Add(await MeasureAsync(agent));
                Console.Error.WriteLine($"{agent.Name}, round {round + 1}: {samples[agent.Name][^1]}");
            }
        }

        var rows = agents.Select(a => samples[a.Name]).Select((s, i) => new Row(agents[i].Name, Median(s.Select(x => x.ReadyMs)), Median(s.Select(x => x.PeakKb)) / 1024, Median(s.Select(x => x.IdleKb)) / 1024, Median(s.Select(x => x.TreeIdleKb)) / 1024)).ToList();
        Console.WriteLine($"{"agent",-34} {"ready ms",9} {"peak RSS MB",12} {"idle RSS MB",12} {"tree idle MB",13}");
        foreach (var row in rows)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{row.Name,-34} {row.ReadyMs,9:0} {row.PeakMb,12:0.0} {row.IdleMb,12:0.0} {row.TreeIdleMb,13:0.0}"));
        }

        var loadAfter = File.ReadAllText("/proc/loadavg").Split(' ')[..3];
        if (rows.Find(r => r.Name.StartsWith("waagent", StringComparison.Ordinal)) is { } waagent)
        {
            foreach (var latchd in rows.Where(r => r.Name.EndsWith("(Agent=disabled)", StringComparison.Ordinal) && r != waagent))
            {
                var label = latchd.Name.StartsWith("alt", StringComparison.Ordinal) ? "waagent / alt latchd (both disabled)" : "waagent / latchd (both disabled)";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{label,-34} {waagent.ReadyMs / latchd.ReadyMs,8:0.0}x {waagent.PeakMb / latchd.PeakMb,11:0.0}x {waagent.IdleMb / latchd.IdleMb,11:0.0}x {waagent.TreeIdleMb / latchd.TreeIdleMb,12:0.0}x"));
            }
        }

        Console.WriteLine($"median of {Rounds} rounds (agents interleaved, rotating which goes first); each run boots a fresh VM; ready = agent process start to the emulator recording Ready; idle RSS sampled {s_idleWait.TotalSeconds:0} s after Ready");
        Console.WriteLine($"load average before {string.Join(' ', load)}, after {string.Join(' ', loadAfter)}");
        return 0;
    }

    /// <summary>Installs <paramref name="binary"/> as the VM's latchd and writes its configuration (before the clock starts).</summary>
    private static async Task PrepareLatchdAsync(Vm vm, string binary, bool provision)
    {
        if (binary == Latchd.VmPath)
        {
            await Latchd.InstallAsync(vm);
        }
        else
        {
            File.Copy(binary, vm.Root + Latchd.VmPath, overwrite: true);
            File.SetUnixFileMode(vm.Root + Latchd.VmPath, (UnixFileMode)0b111_101_101);
        }

        await vm.WriteFileAsync("/etc/latch/latchd.toml", $"[Provisioning]\nAgent = \"{(provision ? "latch" : "disabled")}\"\n");
    }

    private static TrackedProcess StartLatchd(Vm vm) => vm.StartProcess("latchd run", ["/usr/bin/env", .. s_latchdEnvironment, Latchd.VmPath, "run"]);

    /// <summary>
    /// One fresh VM: the agent installed and configured, then the clock runs from starting its process to the emulator
    /// recording Ready (the same start for every agent: the rig's nsenter + chroot into the VM).
    /// </summary>
    private static async Task<Sample> MeasureAsync(Agent candidate)
    {
        await using var host = await AzureHost.StartAsync();
        var key = await SshKey.CreateAsync(Path.Combine(host.Directory, "keys"), "admin");
        var vm = await host.AddVmAsync("vm1", new VmProfile { AdminUsername = "azureuser", PublicKeys = [key.PublicKey] });
        var emulator = await host.StartEmulatorAsync();
        await WarmUpAsync(host);

        await candidate.PrepareAsync(vm);
        var started = DateTimeOffset.UtcNow;
        var agent = candidate.Start(vm);
        var ready = await WaitForReadyAsync(emulator, vm, agent);
        var readyMs = (ready - started).TotalMilliseconds;
        await Task.Delay(s_idleWait);
        var (peak, idle) = Memory(agent.Pid);
        // VmHWM starts again at each execve: latchd logs the first image's peak before it becomes latchd-guard
        peak = Math.Max(peak, LoggedPeakKb(agent.Log));
        if (Environment.GetEnvironmentVariable("LATCH_BENCH_SMAPS") == "1")
        {
            DumpMappings(agent.Pid);
            Console.Error.WriteLine(string.Join('\n', agent.Log.Split('\n').Where(l => l.Contains("idle:", StringComparison.Ordinal))));
        }

        var tree = Tree(agent.Pid).Sum(pid => Memory(pid).Rss);
        await agent.StopAsync(TimeSpan.FromSeconds(10));
        return new Sample(readyMs, peak, idle, tree);
    }

    /// <summary>
    /// The emulator is a fresh ASP.NET process per round: the first request to each endpoint pays its JIT. Pay it before
    /// the clock starts (read-only requests: no health report is recorded), so the figures are the agent's own.
    /// </summary>
    private static async Task WarmUpAsync(AzureHost host)
    {
        using var http = host.CreateHttpClient(TimeSpan.FromSeconds(30));
        for (var i = 0; i < 3; i++)
        {
            using var goalState = new HttpRequestMessage(HttpMethod.Get, $"http://{AzureHost.WireServerAddress}/machine/?comp=goalstate");
            goalState.Headers.Add("x-ms-version", "2012-11-30");
            (await http.SendAsync(goalState)).Dispose();
            using var imds = new HttpRequestMessage(HttpMethod.Get, $"http://{AzureHost.ImdsAddress}/metadata/instance?api-version=2023-07-01");
            imds.Headers.Add("Metadata", "true");
            (await http.SendAsync(imds)).Dispose();
            (await http.GetAsync($"http://{AzureHost.WireServerAddress}/?comp=versions")).Dispose();
        }
    }

    private static async Task<DateTimeOffset> WaitForReadyAsync(EmulatorProcess emulator, Vm vm, TrackedProcess agent)
    {
        for (var i = 0; i < 12_000; i++)
        {
            var body = await emulator.GetHealthReportsAsync(vm.Name);
            foreach (var report in EmulatorProcess.Reports(body))
            {
                if (EmulatorProcess.StateOf(report) == "Ready")
                {
                    return report.GetProperty("time").GetDateTimeOffset();
                }
            }

            if (agent.HasExited)
            {
                throw new RigException($"{agent.Name} exited before Ready:\n{agent.Log}");
            }

            await Task.Delay(10);
        }

        throw new RigException($"{agent.Name}: no Ready within 120 s:\n{agent.Log}");
    }

    /// <summary>The mappings holding the most resident memory (LATCH_BENCH_SMAPS=1), and the thread count: where idle RSS goes.</summary>
    private static void DumpMappings(int pid)
    {
        var rows = new List<(string Name, double Rss)>();
        var name = "";
        foreach (var line in File.ReadAllLines($"/proc/{pid}/smaps"))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 5 && fields[0].Contains('-', StringComparison.Ordinal) && !fields[0].EndsWith(':'))
            {
                name = fields[0] + " " + fields[1] + " " + (fields.Length > 5 ? fields[5] : "[anon]");
            }
            else if (fields.Length >= 2 && fields[0] == "Rss:")
            {
                rows.Add((name, double.Parse(fields[1], CultureInfo.InvariantCulture)));
            }
        }

        var threads = Directory.GetDirectories($"/proc/{pid}/task").Select(t => File.ReadAllText(Path.Combine(t, "comm")).Trim()).ToList();
        Console.Error.WriteLine($"  threads: {threads.Count} ({string.Join(", ", threads)})");
        foreach (var row in rows.GroupBy(r => r.Name.Split(' ')[^1] + " " + r.Name.Split(' ')[1]).Select(g => (g.Key, Rss: g.Sum(r => r.Rss))).OrderByDescending(r => r.Rss).Take(14))
        {
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {row.Rss,8:0} kB  {row.Key}"));
        }
    }

    /// <summary>The largest "peak resident memory so far N MB" latchd logged before an execve, in kB (0 when none).</summary>
    private static double LoggedPeakKb(string log) =>
        System.Text.RegularExpressions.Regex.Matches(log, @"peak resident memory so far ([0-9.]+) MB")
            .Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) * 1024)
            .DefaultIfEmpty(0)
            .Max();

    /// <summary>VmHWM (peak) and VmRSS (now) of a process, in kB.</summary>
    private static (double Peak, double Rss) Memory(int pid)
    {
        double peak = 0, rss = 0;
        foreach (var line in File.ReadAllLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                peak = Kb(line);
            }
            else if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = Kb(line);
            }
        }

        return (peak, rss);

        static double Kb(string line) => double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }

    /// <summary>The process and all its descendants (waagent forks its extension handler).</summary>
    private static List<int> Tree(int root)
    {
        var all = new List<int> { root };
        for (var i = 0; i < all.Count; i++)
        {
            foreach (var task in Directory.EnumerateDirectories($"/proc/{all[i]}/task"))
            {
                var children = File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries);
                all.AddRange(children.Select(c => int.Parse(c, CultureInfo.InvariantCulture)));
            }
        }

        return all;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }

    private sealed record Sample(double ReadyMs, double PeakKb, double IdleKb, double TreeIdleKb)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"Ready after {ReadyMs:0} ms, peak {PeakKb / 1024:0.0} MB, idle {IdleKb / 1024:0.0} MB, tree {TreeIdleKb / 1024:0.0} MB");
    }

    private sealed record Agent(string Name, Func<Vm, Task> PrepareAsync, Func<Vm, TrackedProcess> Start);

    private sealed record Row(string Name, double ReadyMs, double PeakMb, double IdleMb, double TreeIdleMb);
}
