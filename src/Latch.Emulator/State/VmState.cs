using Latch.Emulator.Scenarios;

namespace Latch.Emulator.State;

/// <summary>How a health report reached the WireServer.</summary>
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<HealthReportKind>))]
public enum HealthReportKind
{
    /// <summary>waagent's <c>POST /machine?comp=health</c> XML body.</summary>
    Xml,

    /// <summary>azure-init's <c>POST /provisioning/health</c> JSON body.</summary>
    Json,
}

/// <summary>One health report as the WireServer recorded it (both kinds share one history per VM).</summary>
public sealed record HealthReport(
    DateTimeOffset Time,
    HealthReportKind Kind,
    string State,
    string? SubStatus,
    string? Description,
    string? Incarnation,
    string? UserAgent,
    string? AgentName);

/// <summary>
/// One health observation waagent posts to the WireServer's <c>POST /HealthService</c> (its HostGAPlugin and IMDS
/// heartbeats): <c>{"Api":"reporttargethealth","Version":"1.0","Source":"WALinuxAgent","Observations":[…]}</c>.
/// </summary>
public sealed record HealthObservation(
    DateTimeOffset Time,
    string Source,
    string Name,
    bool IsHealthy,
    string Description,
    string Value);

/// <summary>
/// The live state of one emulated VM: its incarnation, the keys IMDS and the goal state publish (replaceable
/// through the control API), and the health reports it sent. Thread-safe.
/// </summary>
public sealed class VmState
{
    /// <summary>The real WireServer keeps at most 4096 bytes of a description; waagent cuts it to this many characters.</summary>
    public const int MaxDescriptionLength = 3686;

    /// <summary>How many health observations (<c>POST /HealthService</c>) a VM keeps, newest last.</summary>
    public const int MaxHealthObservations = 500;

    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly List<HealthReport> _health = [];
    private readonly Queue<HealthObservation> _observations = new();
    private readonly List<TaskCompletionSource> _healthWaiters = [];
    private IReadOnlyList<VmPublicKey> _keys;
    private int _incarnation = 1;
    private DateTimeOffset _goalStateCreated;
    private int _vmSettingsServed;
    private int _telemetryEvents;
    private int _statusUploads;
    private string? _lastStatus;
    private IReadOnlyDictionary<string, string> _roleProperties = new Dictionary<string, string>();

    internal VmState(VmDefinition definition, TimeProvider time)
    {
        _time = time;
        _goalStateCreated = time.GetUtcNow();
        Definition = definition;
        _keys = definition.PublicKeys;
        ContainerId = ScenarioLoader.StableGuid("container:" + definition.VmId);
        InstanceId = ScenarioLoader.StableGuid("instance:" + definition.VmId).Replace("-", "", StringComparison.Ordinal) + "." + definition.Name;
        MacAddress = definition.MacAddress ?? DeriveMac(definition.Name);
    }

    public VmDefinition Definition { get; }
    public string Name => Definition.Name;
    public string ComputerName => Definition.ComputerName ?? Definition.Name;

    /// <summary>The goal state's Container/ContainerId (stable for a VM id).</summary>
    public string ContainerId { get; }

    /// <summary>The goal state's RoleInstance/InstanceId (stable for a VM id).</summary>
    public string InstanceId { get; }

    public string MacAddress { get; }

    public int Incarnation
    {
        get
        {
            lock (_gate)
            {
                return _incarnation;
            }
        }
    }

    /// <summary>
    /// The current goal state: its incarnation and when the fabric created it (ExtensionsConfig createdOnTicks and
    /// vmSettings extensionsLastModifiedTickCount, which waagent compares with each other).
    /// </summary>
    public (int Incarnation, DateTimeOffset CreatedAt) GoalState
    {
        get
        {
            lock (_gate)
            {
                return (_incarnation, _goalStateCreated);
            }
        }
    }

    /// <summary>The keys IMDS (compute.publicKeys) and ovf-env.xml publish now.</summary>
    public IReadOnlyList<VmPublicKey> PublicKeys
    {
        get
        {
            lock (_gate)
            {
                return _keys;
            }
        }
    }

    public IReadOnlyList<HealthReport> HealthReports
    {
        get
        {
            lock (_gate)
            {
                return [.. _health];
            }
        }
    }

    /// <summary>The health observations the VM's agent posted to <c>POST /HealthService</c>, oldest first (at most <see cref="MaxHealthObservations"/>).</summary>
    public IReadOnlyList<HealthObservation> HealthObservations
    {
        get
        {
            lock (_gate)
            {
                return [.. _observations];
            }
        }
    }

    /// <summary>How many full vmSettings documents (200, not 304) the HostGAPlugin served this VM.</summary>
    public int VmSettingsServedCount => Volatile.Read(ref _vmSettingsServed);

    /// <summary>How many telemetry events the VM's agent sent (<c>POST /machine?comp=telemetrydata</c>).</summary>
    public int TelemetryEventCount => Volatile.Read(ref _telemetryEvents);

    /// <summary>How many times the agent uploaded its status blob, and the last one (at most 64 KiB kept).</summary>
    public int StatusUploadCount => Volatile.Read(ref _statusUploads);

    public string? LastStatusBlob
    {
        get
        {
            lock (_gate)
            {
                return _lastStatus;
            }
        }
    }

    /// <summary>The last role properties the agent sent (name to value, e.g. CertificateThumbprint).</summary>
    public IReadOnlyDictionary<string, string> RoleProperties
    {
        get
        {
            lock (_gate)
            {
                return _roleProperties;
            }
        }
    }

    internal void RecordTelemetry(int events) => Interlocked.Add(ref _telemetryEvents, events);

    internal void RecordVmSettingsServed() => Interlocked.Increment(ref _vmSettingsServed);

    internal void RecordObservations(IEnumerable<HealthObservation> observations)
    {
        lock (_gate)
        {
            foreach (var observation in observations)
            {
                if (_observations.Count >= MaxHealthObservations)
                {
                    _observations.Dequeue();
                }

                _observations.Enqueue(observation);
            }
        }
    }

    internal void RecordStatus(string blob)
    {
        lock (_gate)
        {
            _statusUploads++;
            _lastStatus = blob.Length > 65536 ? blob[..65536] : blob;
        }
    }

    internal void RecordRoleProperties(IReadOnlyDictionary<string, string> properties)
    {
        lock (_gate)
        {
            _roleProperties = properties;
        }
    }

    /// <summary>Starts a new goal state, as the fabric does when the VM model changes. Returns the new incarnation.</summary>
    public int BumpIncarnation()
    {
        lock (_gate)
        {
            return NextGoalState();
        }
    }

    /// <summary>Replaces the published keys and bumps the incarnation (a key change is a new goal state on Azure).</summary>
    public int ReplaceKeys(IReadOnlyList<VmPublicKey> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        lock (_gate)
        {
            _keys = [.. keys];
            return NextGoalState();
        }
    }

    private int NextGoalState()
    {
        _goalStateCreated = _time.GetUtcNow();
        return ++_incarnation;
    }

    internal void Record(HealthReport report)
    {
        List<TaskCompletionSource> waiters;
        lock (_gate)
        {
            _health.Add(report);
            waiters = [.. _healthWaiters];
            _healthWaiters.Clear();
        }

        foreach (var waiter in waiters)
        {
            waiter.TrySetResult();
        }
    }

    /// <summary>Waits until a health report matching <paramref name="predicate"/> has been recorded (or returns it at once).</summary>
    public async Task<HealthReport> WaitForHealthReportAsync(Func<HealthReport, bool> predicate, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        while (true)
        {
            TaskCompletionSource next;
            lock (_gate)
            {
                var found = _health.FirstOrDefault(predicate);
                if (found is not null)
                {
                    return found;
                }

                next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _healthWaiters.Add(next);
            }

            await next.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    internal static string? Truncate(string? description) =>
        description is { Length: > MaxDescriptionLength } ? description[..MaxDescriptionLength] : description;

    private static string DeriveMac(string name)
    {
        // 00-0D-3A is the Microsoft OUI Azure NICs carry.
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("mac:" + name));
        return "000D3A" + Convert.ToHexString(hash, 0, 3);
    }
}
