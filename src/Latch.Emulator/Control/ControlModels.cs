using System.Text.Json;
using System.Text.Json.Serialization;
using Latch.Emulator.Faults;
using Latch.Emulator.Hostile;
using Latch.Emulator.Media;
using Latch.Emulator.State;

namespace Latch.Emulator.Control;

/// <summary>A VM as <c>GET /vms</c> lists it.</summary>
public sealed record VmSummary(
    string Name,
    string VmId,
    string ResourceGroup,
    int Incarnation,
    string ContainerId,
    string InstanceId,
    string PrivateIpAddress,
    string? SourceAddress,
    string PrincipalId,
    IReadOnlyList<VmPublicKey> PublicKeys,
    int HealthReportCount,
    HealthReport? LastHealthReport,
    HostileAgentStatus? HostileAgent,
    int HealthObservationCount,
    int StatusUploadCount,
    int VmSettingsServedCount);

/// <summary><c>PUT /vms/{name}/keys</c>: the keys IMDS and the goal state publish from now on.</summary>
public sealed record KeysRequest(IReadOnlyList<VmPublicKey>? PublicKeys);

/// <summary><c>POST /vms/{name}/hostile-agent</c>.</summary>
public sealed record HostileAgentRequest(int IntervalMs, string? Key, int? MaxRewrites);

/// <summary>
/// <c>POST /faults</c>: either <see cref="Spec"/> (<c>imds:status=503,count=3</c>) or the fields. <see cref="Status"/>
/// is a synonym of <see cref="Value"/> for the status kind, <see cref="LatencyMs"/> for latency, <see cref="RetryAfterSeconds"/> for throttle.
/// </summary>
public sealed record FaultRequest(
    string? Spec,
    string? Group,
    FaultKind? Kind,
    int? Value,
    int? Status,
    int? LatencyMs,
    int? RetryAfterSeconds,
    string? PathPrefix,
    int? Count);

public sealed record IncarnationResponse(string Vm, int Incarnation);

public sealed record RemovedResponse(int Removed);

public sealed record ErrorResponse(string Error);

/// <summary>The emulator's endpoints, as <c>GET /endpoints</c> and the command line print them.</summary>
public sealed record EndpointsResponse(string Imds, string WireServer, string HostGaPlugin, string KeyVault, string Arm, string Control, string? CaCertificate, string StateDirectory);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(VmSummary))]
[JsonSerializable(typeof(IReadOnlyList<VmSummary>))]
[JsonSerializable(typeof(IReadOnlyList<HealthReport>))]
[JsonSerializable(typeof(IReadOnlyList<HealthObservation>))]
[JsonSerializable(typeof(IReadOnlyList<RequestRecord>))]
[JsonSerializable(typeof(IReadOnlyList<FaultRule>))]
[JsonSerializable(typeof(FaultRule))]
[JsonSerializable(typeof(FaultRequest))]
[JsonSerializable(typeof(KeysRequest))]
[JsonSerializable(typeof(HostileAgentRequest))]
[JsonSerializable(typeof(HostileAgentStatus))]
[JsonSerializable(typeof(MediaPaths))]
[JsonSerializable(typeof(IncarnationResponse))]
[JsonSerializable(typeof(RemovedResponse))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(EndpointsResponse))]
internal sealed partial class ControlJsonContext : JsonSerializerContext
{
    /// <summary>The context the control API uses: like <see cref="JsonSerializerContext"/>'s default, but quotes and '+' stay readable.</summary>
    public static ControlJsonContext Readable { get; } = new(new JsonSerializerOptions(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
