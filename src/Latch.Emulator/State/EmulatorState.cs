using System.Net;
using Latch.Emulator.Faults;
using Latch.Emulator.Hostile;
using Microsoft.Extensions.Logging;

namespace Latch.Emulator.State;

/// <summary>One request as the emulator saw it. <see cref="Path"/> carries the query with secret values masked.</summary>
public sealed record RequestRecord(
    DateTimeOffset Time,
    string Group,
    string Method,
    string Path,
    int Status,
    double DurationMs,
    string RemoteAddress,
    string? UserAgent,
    string? Fault);

/// <summary>
/// Everything the emulator knows at run time, shared by all endpoint groups: the scenario, each VM's live state
/// (incarnation, keys, health history), the requests seen and the active faults. Thread-safe.
/// </summary>
public sealed class EmulatorState
{
    /// <summary>How many requests the log keeps (oldest dropped first), so a long benchmark cannot exhaust memory.</summary>
    public const int MaxRequests = 20_000;

    private readonly Lock _gate = new();
    private readonly Queue<RequestRecord> _requests = new();
    private readonly Dictionary<string, VmState> _byName;

    internal EmulatorState(Scenario scenario, TimeProvider time, string stateDirectory, TimeSpan runCommandLatency, ILoggerFactory loggerFactory)
    {
        LoggerFactory = loggerFactory;
        HostileAgents = new HostileAgents(time, loggerFactory.CreateLogger("Latch.Emulator.Hostile"));
        Scenario = scenario;
        Time = time;
        StateDirectory = stateDirectory;
        RunCommandLatency = runCommandLatency;
        Vms = [.. scenario.Vms.Select(v => new VmState(v, time))];
        _byName = Vms.ToDictionary(v => v.Name, StringComparer.OrdinalIgnoreCase);
    }

    public Scenario Scenario { get; }
    public TimeProvider Time { get; }
    public string StateDirectory { get; }
    public TimeSpan RunCommandLatency { get; }
    public IReadOnlyList<VmState> Vms { get; }
    public FaultRegistry Faults { get; } = new();
    public HostileAgents HostileAgents { get; }
    internal ILoggerFactory LoggerFactory { get; }

    public IReadOnlyList<RequestRecord> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    public VmState GetVm(string name) =>
        TryGetVm(name, out var vm) ? vm : throw new KeyNotFoundException($"no VM named '{name}' in the scenario; known: {string.Join(", ", Vms.Select(v => v.Name))}");

    public bool TryGetVm(string name, out VmState vm) => _byName.TryGetValue(name, out vm!);

    /// <summary>
    /// The VM a request from <paramref name="remote"/> speaks for: the VM whose SourceAddress equals it; else the
    /// first VM without a SourceAddress (it matches any caller); else the first VM. Null only when the scenario has no VM.
    /// </summary>
    public VmState? ResolveVm(IPAddress? remote)
    {
        if (remote is not null)
        {
            if (remote.IsIPv4MappedToIPv6)
            {
                remote = remote.MapToIPv4();
            }

            foreach (var vm in Vms)
            {
                if (vm.Definition.SourceAddress is { } source && IPAddress.TryParse(source, out var address) && address.Equals(remote))
                {
                    return vm;
                }
            }
        }

        return Vms.FirstOrDefault(v => v.Definition.SourceAddress is null) ?? Vms.FirstOrDefault();
    }

    internal void Record(RequestRecord request)
    {
        lock (_gate)
        {
            if (_requests.Count >= MaxRequests)
            {
                _requests.Dequeue();
            }

            _requests.Enqueue(request);
        }
    }
}
