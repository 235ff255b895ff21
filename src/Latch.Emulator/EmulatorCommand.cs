using System.Globalization;
using System.Runtime.InteropServices;
using Latch.Core;
using Latch.Emulator.Control;
using Latch.Emulator.Faults;
using Latch.Emulator.Media;
using Latch.Emulator.Scenarios;
using Microsoft.Extensions.Logging;

namespace Latch.Emulator;

/// <summary>The parsed command line of latch-emulator.</summary>
internal sealed record EmulatorArguments
{
    public string? Scenario { get; init; }
    public string? Imds { get; init; }
    public string? WireServer { get; init; }
    public string? HostGaPlugin { get; init; }
    public string? KeyVault { get; init; }
    public string? Arm { get; init; }
    public string? Control { get; init; }
    public string? StateDirectory { get; init; }
    public int? RunCommandLatencyMs { get; init; }
    public IReadOnlyList<FaultRule> Faults { get; init; } = [];
    public IReadOnlyList<string> Media { get; init; } = [];
    public IReadOnlyList<HostileAgentFlag> HostileAgents { get; init; } = [];
    public LogLevel LogLevel { get; init; } = LogLevel.Information;
    public bool Help { get; init; }
}

/// <summary>One <c>--hostile-agent VM,interval=MS,key=FILE[,max=N]</c>: the VM, and the agent's options once the key file is read.</summary>
internal sealed record HostileAgentFlag(string Vm, string KeyFile, int IntervalMs, int MaxRewrites)
{
    public const string Syntax = "VM,interval=MS,key=PUBKEY_FILE[,max=N]";

    public static HostileAgentFlag Parse(string spec)
    {
        var parts = spec.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0 || parts[0].Contains('=', StringComparison.Ordinal))
        {
            throw new FormatException($"--hostile-agent '{spec}': expected {Syntax}, e.g. vm-web,interval=100,key=hostile.pub");
        }

        int? interval = null;
        var max = Hostile.HostileAgent.DefaultMaxRewrites;
        string? key = null;
        foreach (var part in parts.Skip(1))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            var (name, value) = eq < 0 ? (part, "") : (part[..eq], part[(eq + 1)..]);
            switch (name)
            {
                case "interval":
                    interval = Number(spec, name, value);
                    break;
                case "max":
                    max = Number(spec, name, value);
                    break;
                case "key":
                    key = value.Length > 0 ? value : throw new FormatException($"--hostile-agent '{spec}': key= needs the path of a public key file");
                    break;
                default:
                    throw new FormatException($"--hostile-agent '{spec}': unknown option '{name}'; use interval=MS, key=FILE, max=N");
            }
        }

        return new HostileAgentFlag(
            parts[0],
            key ?? throw new FormatException($"--hostile-agent '{spec}': key=FILE is missing (the public key the agent writes)"),
            interval ?? throw new FormatException($"--hostile-agent '{spec}': interval=MS is missing (how often it rewrites)"),
            max);
    }

    private static int Number(string spec, string name, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw new FormatException($"--hostile-agent '{spec}': {name} needs a whole number, not '{value}'");
}

/// <summary>latch-emulator's command line: parse, start the host, print endpoints and "ready", run until SIGTERM/SIGINT.</summary>
internal static class EmulatorCommand
{
    public const string HelpText = $"""
        latch-emulator: a faithful local Azure for Latch (IMDS, WireServer, provisioning media, Key Vault, ARM).

        Usage: latch-emulator --scenario FILE [options]

        Options:
          --scenario FILE             the world to emulate: VMs, keys, vaults (TOML or .json; see examples/demo.toml)
          --imds ADDR:PORT            IMDS + managed identity listener      (default 127.0.0.1:0 = a free port)
          --wireserver ADDR:PORT      WireServer listener                   (default 127.0.0.1:0)
          --hostgaplugin ADDR:PORT    HostGAPlugin listener (Azure: 168.63.129.16:32526) (default 127.0.0.1:0)
          --keyvault ADDR:PORT        Key Vault listener (HTTPS, emulator CA)  (default 127.0.0.1:0)
          --arm ADDR:PORT             ARM + Entra token listener (HTTPS)     (default 127.0.0.1:0)
          --control ADDR:PORT         control API listener (JSON)            (default 127.0.0.1:0)
          --state-dir DIR             where media and certificates go       (default: a new temporary directory)
          --run-command-latency MS    how long an ARM run-command takes (default 3000, Azure-like; 0 for tests)
          --fault SPEC                inject a fault from the start; repeatable. SPEC is
                                      GROUP:KIND[=VALUE][,path=PREFIX][,count=N]
                                      GROUP: imds, wireserver, hostgaplugin, keyvault, arm, identity, * (all)
                                      KIND:  latency=MS, status=CODE (any 4xx/5xx; 500, 503 usual), gone (410), throttle=SECONDS (429 +
                                             Retry-After), reset (abort the connection), lost (handle the request,
                                             then abort instead of answering), timeout[=MS] (hold, then abort),
                                             truncate (short body), malformed (invalid JSON/XML),
                                             limit=N (Key Vault-style service limit: N requests per 10 s, then
                                             429 + Retry-After until the window ends)
                                      e.g. --fault imds:status=503,count=3 --fault wireserver:latency=200
          --hostile-agent {HostileAgentFlag.Syntax}
                                      from the start, overwrite VM's authorized_keys with the one key in FILE
                                      every MS ms (at most N times, default 10000), the way
                                      waagent/cloud-init do; needs the VM's authorized_keys_host_path or exec
                                      in the scenario; repeatable (one per VM). Also: POST /vms/VM/hostile-agent
          --write-media VM            write ovf-env.xml (+ ISO) for VM (or 'all') at start; repeatable
          --log-level LEVEL           Trace, Debug, Information (default), Warning, Error
          -h, --help                  show this help

        Output: when ready, stdout gets one line per endpoint, then 'ready':
          imds http://…   wireserver http://…   hostgaplugin http://…   keyvault https://…   arm https://…
          control http://…
          ca /path/ca.pem   state DIR   media VM OVF_ENV_PATH ISO_PATH|-   hostile-agent VM TARGET   ready
        Logs (every request: group, method, path with secret query values masked, status, ms) go to stderr.
        SIGTERM or SIGINT stops it; the exit code is then 0. Usage errors exit 2, start failures 1.

        Control API (JSON):
        {ControlEndpoints.Routes}
        IMDS picks the VM whose source_address equals the caller's IP, else the first VM without one, else the first VM.
        """;

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        EmulatorArguments parsed;
        try
        {
            parsed = Parse(args);
        }
        catch (FormatException e)
        {
            await stderr.WriteLineAsync($"latch-emulator: {e.Message}\nRun 'latch-emulator --help' for usage.").ConfigureAwait(false);
            return 2;
        }

        if (parsed.Help)
        {
            await stdout.WriteAsync(HelpText).ConfigureAwait(false);
            return 0;
        }

        Scenario scenario;
        try
        {
            scenario = await ScenarioLoader.LoadFileAsync(parsed.Scenario!).ConfigureAwait(false);
        }
        catch (ScenarioException e)
        {
            await stderr.WriteLineAsync($"latch-emulator: {e.Message}").ConfigureAwait(false);
            return 2;
        }

        var unknownAgent = parsed.HostileAgents.FirstOrDefault(a => !scenario.Vms.Any(v => string.Equals(v.Name, a.Vm, StringComparison.OrdinalIgnoreCase)));
        if (unknownAgent is not null)
        {
            await stderr.WriteLineAsync($"latch-emulator: --hostile-agent {unknownAgent.Vm}: no such VM in the scenario (known: {string.Join(", ", scenario.Vms.Select(v => v.Name))}).").ConfigureAwait(false);
            return 2;
        }

        var hostileOptions = new List<(string Vm, Hostile.HostileAgentOptions Options)>();
        foreach (var agent in parsed.HostileAgents)
        {
            string key;
            try
            {
                key = (await File.ReadAllTextAsync(agent.KeyFile).ConfigureAwait(false)).Trim();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                await stderr.WriteLineAsync($"latch-emulator: --hostile-agent {agent.Vm}: cannot read key file '{agent.KeyFile}': {e.Message}").ConfigureAwait(false);
                return 2;
            }

            var options = new Hostile.HostileAgentOptions(key, agent.IntervalMs, agent.MaxRewrites);
            if (options.Validate() is { } problem)
            {
                await stderr.WriteLineAsync($"latch-emulator: --hostile-agent {agent.Vm}: {problem} (in '{agent.KeyFile}' or the options).").ConfigureAwait(false);
                return 2;
            }

            hostileOptions.Add((agent.Vm, options));
        }

        var unknownMedia = parsed.Media.FirstOrDefault(m => m != "all" && !scenario.Vms.Any(v => string.Equals(v.Name, m, StringComparison.OrdinalIgnoreCase)));
        if (unknownMedia is not null)
        {
            await stderr.WriteLineAsync($"latch-emulator: --write-media {unknownMedia}: no such VM in the scenario (known: {string.Join(", ", scenario.Vms.Select(v => v.Name))}).").ConfigureAwait(false);
            return 2;
        }

        using var stop = new CancellationTokenSource();
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);

        EmulatorHost host;
        try
        {
            host = await EmulatorHost.StartAsync(new EmulatorOptions
            {
                Scenario = scenario,
                ImdsEndpoint = parsed.Imds,
                WireServerEndpoint = parsed.WireServer,
                HostGaPluginEndpoint = parsed.HostGaPlugin,
                KeyVaultEndpoint = parsed.KeyVault,
                ArmEndpoint = parsed.Arm,
                ControlEndpoint = parsed.Control,
                StateDirectory = parsed.StateDirectory ?? "",
                RunCommandLatency = parsed.RunCommandLatencyMs is { } latency ? TimeSpan.FromMilliseconds(latency) : new ArmOptions().RunCommandLatency,
                ConfigureLogging = logging =>
                {
                    logging.SetMinimumLevel(parsed.LogLevel);
                    logging.AddSimpleConsole(o =>
                    {
                        o.SingleLine = true;
                        o.TimestampFormat = "HH:mm:ss.fff ";
                    });
                    logging.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
                },
            }, stop.Token).ConfigureAwait(false);
        }
        catch (LatchException e)
        {
            await stderr.WriteLineAsync($"latch-emulator: {e.Message}").ConfigureAwait(false);
            return 1;
        }

        await using (host.ConfigureAwait(false))
        {
            foreach (var fault in parsed.Faults)
            {
                host.State.Faults.Add(fault);
            }

            await stdout.WriteLineAsync($"imds {host.Imds}").ConfigureAwait(false);
            await stdout.WriteLineAsync($"wireserver {host.WireServer}").ConfigureAwait(false);
            await stdout.WriteLineAsync($"hostgaplugin {host.HostGaPlugin}").ConfigureAwait(false);
            await stdout.WriteLineAsync($"keyvault {host.KeyVault}").ConfigureAwait(false);
            await stdout.WriteLineAsync($"arm {host.Arm}").ConfigureAwait(false);
            await stdout.WriteLineAsync($"control {host.Control}").ConfigureAwait(false);
            if (host.CaCertificatePath is { } ca)
            {
                await stdout.WriteLineAsync($"ca {ca}").ConfigureAwait(false);
            }

            await stdout.WriteLineAsync($"state {host.State.StateDirectory}").ConfigureAwait(false);
            var logger = host.State.LoggerFactory.CreateLogger("Latch.Emulator");
            foreach (var vm in host.State.Vms.Where(v => parsed.Media.Contains("all") || parsed.Media.Contains(v.Name, StringComparer.OrdinalIgnoreCase)))
            {
                var paths = await MediaWriter.WriteAsync(vm, host.State.StateDirectory, logger, stop.Token).ConfigureAwait(false);
                await stdout.WriteLineAsync($"media {vm.Name} {paths.OvfEnvPath} {paths.IsoPath ?? "-"}").ConfigureAwait(false);
            }

            foreach (var (name, options) in hostileOptions)
            {
                try
                {
                    var agent = await host.State.HostileAgents.StartAsync(host.State.GetVm(name), options).ConfigureAwait(false);
                    await stdout.WriteLineAsync($"hostile-agent {agent.Status.Vm} {agent.Status.Target}").ConfigureAwait(false);
                }
                catch (InvalidOperationException e)
                {
                    await stderr.WriteLineAsync($"latch-emulator: --hostile-agent {name}: {e.Message}").ConfigureAwait(false);
                    return 2;
                }
            }

            await stdout.WriteLineAsync("ready").ConfigureAwait(false);
            await stdout.FlushAsync(CancellationToken.None).ConfigureAwait(false);

            try
            {
                await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // SIGTERM/SIGINT: shut down cleanly below
            }
        }

        return 0;

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }

    internal static EmulatorArguments Parse(IReadOnlyList<string> args)
    {
        var result = new EmulatorArguments();
        var faults = new List<FaultRule>();
        var media = new List<string>();
        var hostile = new List<HostileAgentFlag>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            string? inline = null;
            if (arg.StartsWith("--", StringComparison.Ordinal) && arg.IndexOf('=', StringComparison.Ordinal) is var eq and > 0)
            {
                inline = arg[(eq + 1)..];
                arg = arg[..eq];
            }

            string Value() => inline ?? (i + 1 < args.Count ? args[++i] : throw new FormatException($"{arg} needs a value"));

            result = arg switch
            {
                "-h" or "--help" => result with { Help = true },
                "--scenario" => result with { Scenario = Value() },
                "--imds" => result with { Imds = Endpoint(arg, Value()) },
                "--wireserver" => result with { WireServer = Endpoint(arg, Value()) },
                "--hostgaplugin" => result with { HostGaPlugin = Endpoint(arg, Value()) },
                "--keyvault" => result with { KeyVault = Endpoint(arg, Value()) },
                "--arm" => result with { Arm = Endpoint(arg, Value()) },
                "--control" => result with { Control = Endpoint(arg, Value()) },
                "--state-dir" => result with { StateDirectory = Value() },
                "--run-command-latency" => result with { RunCommandLatencyMs = Milliseconds(arg, Value()) },
                "--fault" => Add(faults, FaultRule.Parse(Value()), result),
                "--write-media" => Add(media, Value(), result),
                "--hostile-agent" => Add(hostile, HostileAgentFlag.Parse(Value()), result),
                "--log-level" => result with { LogLevel = Enum.TryParse<LogLevel>(Value(), ignoreCase: true, out var level) ? level : throw new FormatException($"--log-level: use Trace, Debug, Information, Warning or Error") },
                _ => throw new FormatException($"unknown argument '{args[i]}'"),
            };
        }

        if (!result.Help && result.Scenario is null)
        {
            throw new FormatException("--scenario FILE is required (e.g. --scenario examples/demo.toml)");
        }

        return result with { Faults = faults, Media = media, HostileAgents = hostile };
    }

    private static EmulatorArguments Add<T>(List<T> list, T item, EmulatorArguments result)
    {
        list.Add(item);
        return result;
    }

    private static string Endpoint(string option, string value)
    {
        try
        {
            EmulatorHost.ParseEndpoint(option.TrimStart('-'), value);
            return value;
        }
        catch (LatchException e)
        {
            throw new FormatException($"{option}: {e.Message}", e);
        }
    }

    private static int Milliseconds(string option, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) && ms <= 3_600_000
            ? ms
            : throw new FormatException($"{option} needs milliseconds between 0 and 3600000, not '{value}'");
}
