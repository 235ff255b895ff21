using System.Collections.Concurrent;
using System.Globalization;
using Latch.Agent.Guard;
using Latch.Agent.KeyStore;
using Latch.Agent.KeyVaultPull;
using Latch.Emulator;
using Latch.Emulator.Faults;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Latch.Bench.Fleet;

/// <summary>
/// A fleet of VMs pulling their keys from one Key Vault: N in-process pollers, each the real <see cref="KeyVaultPuller"/>
/// (managed-identity token from the emulator's IMDS, HTTPS to the emulator's Key Vault, its own key store) driven by
/// the real <see cref="PollSchedule"/>, on a clock that runs SCALE times faster. The vault enforces a service limit
/// scaled to the fleet's share of 10,000 VMs (Key Vault allows 4,000 secret transactions per 10 s per vault), so the
/// throttling a 10,000-VM fleet would meet shows up here at N. Halfway, every VM's secret changes: staleness is the
/// time until each VM's store has the new key.
/// </summary>
internal static class Program
{
    private const int TargetFleet = 10_000;
    private const int VaultLimitPer10s = 4_000;
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(60);

    private static async Task<int> Main(string[] args)
    {
        if (Latch.Agent.Interop.Libc.GetEffectiveUserId() != 0)
        {
            await Console.Error.WriteLineAsync("bench fleet: needs root (each simulated VM has a root-owned key store, as on a VM)");
            return 2;
        }

        var vms = Option(args, "--vms", 2_000);
        var scale = Option(args, "--scale", 6);
        var rows = new List<Result>();
        foreach (var (name, startJitter) in new[] { ("fleet reboot, start jitter on", true), ("fleet reboot, start jitter off", false) })
        {
            await Console.Error.WriteLineAsync($"bench fleet: {name}: {vms} pollers, clock x{scale} ...");
            rows.Add(await RunAsync(name, vms, scale, startJitter));
        }

        Print(rows, vms, scale);
        return 0;
    }

    private static int Option(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var value) && value > 0 ? value : fallback;
    }

    private sealed record Result(string Scenario, int Vms, double MeanPerSecond, double SteadyPerSecond, int PeakPer10s, int Throttled, int OtherFailures, double P50Staleness, double P99Staleness, int NeverUpdated, bool LogTruncated);

    private static async Task<Result> RunAsync(string scenarioName, int vms, int scale, bool startJitter)
    {
        var time = new ScaledTimeProvider(scale);
        var root = $"/run/latch-bench-fleet-{Environment.ProcessId}";
        var principal = Guid.NewGuid().ToString();
        var (before, after) = (Keys.First, Keys.Second);
        var scenario = new Scenario
        {
            Vms = [new VmDefinition { Name = "fleet", PrincipalId = principal, AdminUsername = "alice" }],
            Vaults =
            [
                new VaultDefinition
                {
                    Name = "latch-kv",
                    AllowedPrincipals = [principal],
                    Secrets = [.. Enumerable.Range(0, vms).Select(i => new SecretDefinition { Name = SecretName(i), Value = before, Tags = new Dictionary<string, string> { ["latch-user"] = "alice" } })],
                },
            ],
        };
        var state = Directory.CreateTempSubdirectory("latch-bench-fleet-").FullName;
        await using var emulator = await EmulatorHost.StartAsync(new EmulatorOptions
        {
            Scenario = scenario,
            StateDirectory = state,
            Time = time,
            ConfigureLogging = logging => logging.ClearProviders(),
        });
        var limit = Math.Max(1, VaultLimitPer10s * vms / TargetFleet);
        emulator.State.Faults.Add(FaultRule.Parse($"keyvault:limit={limit.ToString(CultureInfo.InvariantCulture)}"));

        Directory.CreateDirectory(root, (UnixFileMode)0b111_101_101);
        using var stop = new CancellationTokenSource();
        var changeAt = DateTimeOffset.MaxValue;
        var staleness = new ConcurrentDictionary<int, double>();
        var pullers = new List<KeyVaultPuller>();
        var loops = new List<Task>();
        var started = time.GetUtcNow();
        try
        {
            for (var i = 0; i < vms; i++)
            {
                var vm = i;
                var options = new KeyVaultPullOptions
                {
                    VaultUrl = emulator.KeyVault,
                    CaCertificate = emulator.CaCertificatePath,
                    ImdsUrl = emulator.Imds,
                    VmName = $"vm{vm:D5}",
                    DefaultUser = "alice",
                    DiscoverByTags = false,
                    VerifyChallengeResource = false,
                    PollInterval = PollInterval,
                    StartJitter = startJitter,
                    // the SDK's in-pull retries wait on the real clock; here a throttled pull fails and the schedule backs off
                    MaxAttemptsPerPull = 1,
                };
                var storeDirectory = Path.Combine(root, vm.ToString(CultureInfo.InvariantCulture));
                Directory.CreateDirectory(storeDirectory, (UnixFileMode)0b111_101_101);
                var puller = new KeyVaultPuller(options, new KeyStoreFiles(storeDirectory), NullLogger.Instance, time);
                pullers.Add(puller);
                loops.Add(new PollSchedule(options, time).RunAsync(async ct =>
                {
                    var changed = await puller.PullAsync(ct);
                    var now = time.GetUtcNow();
                    if (changed.Count > 0 && now >= changeAt)
                    {
                        staleness.TryAdd(vm, (now - changeAt).TotalSeconds);
                    }

                    return puller.Status.LastError is null;
                }, stop.Token));
            }

            // two poll intervals to settle, then every VM's key changes; three more intervals to see it arrive
            await Task.Delay(PollInterval * 2, time);
            var store = emulator.KeyVaultStore!;
            changeAt = time.GetUtcNow();
            for (var i = 0; i < vms; i++)
            {
                store.TrySet("latch-kv", SecretName(i), after, new SecretChange(null, true, null, null, new Dictionary<string, string> { ["latch-user"] = "alice" }), out _, out _);
            }

            await Task.Delay(PollInterval * 3, time);
        }
        finally
        {
            await stop.CancelAsync();
            foreach (var loop in loops)
            {
                try
                {
                    await loop;
                }
                catch (OperationCanceledException)
                {
                }
            }

            foreach (var puller in pullers)
            {
                puller.Dispose();
            }

            Directory.Delete(root, recursive: true);
            Directory.Delete(state, recursive: true);
        }

        var ended = time.GetUtcNow();
        var requests = emulator.State.Requests.Where(r => r.Group == "keyvault").ToList();
        var seconds = (ended - started).TotalSeconds;
        var steadyFrom = changeAt + PollInterval;
        var steady = requests.Count(r => r.Time >= steadyFrom) / Math.Max(1, (ended - steadyFrom).TotalSeconds);
        var peak = requests.GroupBy(r => r.Time.UtcTicks / FaultRegistry.LimitWindow.Ticks).Select(g => g.Count()).DefaultIfEmpty(0).Max();
        var throttled = requests.Count(r => r.Status == 429);
        var failures = requests.Count(r => r.Status is >= 500 or 0);
        var stale = staleness.Values.Order().ToList();
        return new Result(scenarioName, vms, requests.Count / seconds, steady, peak, throttled, failures,
            Percentile(stale, 0.50), Percentile(stale, 0.99), vms - stale.Count, emulator.State.Requests.Count >= Latch.Emulator.State.EmulatorState.MaxRequests);
    }

    private static string SecretName(int vm) => $"latch-vm{vm:D5}-key";

    private static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

    private static void Print(List<Result> rows, int vms, int scale)
    {
        var factor = (double)TargetFleet / vms;
        var limit = Math.Max(1, VaultLimitPer10s * vms / TargetFleet);
        Console.WriteLine($"Key Vault fleet: {vms} simulated VMs (real KeyVaultPuller + PollSchedule, poll {PollInterval.TotalSeconds:0} s ± 20 %, one GET of a known secret name per poll)");
        Console.WriteLine($"against the emulator's Key Vault limited to {limit} requests per 10 s (Key Vault's {VaultLimitPer10s} per vault x {vms}/{TargetFleet}); clock x{scale}; every secret changes after 2 min");
        Console.WriteLine();
        string[] header = ["scenario", "VMs", "req/s mean", "req/s steady (expected)", "peak /10 s", "429s", "5xx/reset", "staleness p50", "staleness p99", "not updated", "10,000 VMs: req/s steady", "10,000 VMs: peak /10 s (limit 4,000)"];
        var table = new List<string[]> { header };
        foreach (var r in rows)
        {
            table.Add([
                r.Scenario, r.Vms.ToString(CultureInfo.InvariantCulture), r.MeanPerSecond.ToString("0.0", CultureInfo.InvariantCulture), r.SteadyPerSecond.ToString("0.0", CultureInfo.InvariantCulture) + $" ({(r.Vms / PollInterval.TotalSeconds).ToString("0.0", CultureInfo.InvariantCulture)})",
                r.PeakPer10s.ToString(CultureInfo.InvariantCulture), r.Throttled.ToString(CultureInfo.InvariantCulture), r.OtherFailures.ToString(CultureInfo.InvariantCulture),
                Seconds(r.P50Staleness), Seconds(r.P99Staleness), r.NeverUpdated.ToString(CultureInfo.InvariantCulture),
                (r.SteadyPerSecond * factor).ToString("0", CultureInfo.InvariantCulture), (r.PeakPer10s * factor).ToString("0", CultureInfo.InvariantCulture) + (r.PeakPer10s * factor > VaultLimitPer10s ? " OVER" : ""),
            ]);
        }

        var widths = header.Select((_, c) => table.Max(row => row[c].Length)).ToArray();
        foreach (var row in table)
        {
            Console.WriteLine(string.Join("  ", row.Select((cell, c) => c == 0 ? cell.PadRight(widths[c]) : cell.PadLeft(widths[c]))));
        }

        if (rows.Any(r => r.SteadyPerSecond < 0.9 * r.Vms / PollInterval.TotalSeconds))
        {
            Console.WriteLine("note: the steady rate is below 90 % of one pull per VM per interval: this machine could not keep up at this clock speed (lower --scale or --vms); the rates and peaks understate what the fleet would send");
        }

        if (rows.Any(r => r.LogTruncated))
        {
            Console.WriteLine("note: the emulator's request log filled up; lower --vms");
        }

        static string Seconds(double s) => double.IsNaN(s) ? "-" : s.ToString("0", CultureInfo.InvariantCulture) + " s";
    }

    /// <summary>Two real ed25519 public keys (the value every VM's secret holds before and after the change).</summary>
    private static class Keys
    {
        public const string First = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDPkF5VHRonIwWDx4J8dlx4vadF5+3dWZok5Cb9jWB6b fleet-before";
        public const string Second = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJFg/BIQqU0lgnMOIP6ADbeMYZ+KorcO+kGQhOH7nwZz fleet-after";
    }
}
