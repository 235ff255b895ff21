using System.Text.Json;
using System.Text.Json.Serialization;

namespace Latch.Cli;

internal sealed record EntraTokenWire(
    [property: JsonPropertyName("access_token")] string? AccessToken,
    [property: JsonPropertyName("expires_in")] long? ExpiresIn);

internal sealed record EntraErrorWire(
    [property: JsonPropertyName("error")] string? Error,
    [property: JsonPropertyName("error_description")] string? ErrorDescription);

internal sealed record AzCliTokenWire(
    [property: JsonPropertyName("accessToken")] string? AccessToken,
    [property: JsonPropertyName("expires_on")] long? ExpiresOnUnix);

internal sealed record OpenIdConfigurationWire([property: JsonPropertyName("issuer")] string? Issuer);

/// <summary>The emulator's <c>GET /endpoints</c> answer (the fields latch uses).</summary>
internal sealed record EmulatorEndpointsWire(string? KeyVault, string? Arm, string? Control, string? CaCertificate);

/// <summary>What latch caches about a VM name: stable ARM facts only, never addresses (they change on deallocate).</summary>
internal sealed record CachedVm(string Name, string Id, string ResourceGroup, string SubscriptionId, string? AdminUsername, string? NetworkInterfaceId)
{
    // what the last connect used, for its early key check only (Sync/EarlyCheck.cs); never a target without ARM agreeing
    public string? SshHost { get; init; }

    public string? KeyLine { get; init; }

    public string? IdentityFile { get; init; }

    public bool? KeyFromVault { get; init; }

    public DateTimeOffset? EarlyCheckRestsUntil { get; init; }
}

internal sealed record VmCacheFile(int Version, List<CachedVm> Vms);

/// <summary>session.json (0600): cached access tokens and discovered sign-in facts; see Azure/SessionCache.cs.</summary>
internal sealed record SessionCacheFile(
    [property: JsonPropertyName("version")] int Version,
    [property: JsonPropertyName("tokens")] Dictionary<string, CachedTokenWire> Tokens,
    [property: JsonPropertyName("facts")] Dictionary<string, CachedFactWire> Facts);

internal sealed record CachedTokenWire(
    [property: JsonPropertyName("token")] string Token,
    [property: JsonPropertyName("expires_on")] DateTimeOffset ExpiresOn);

internal sealed record CachedFactWire(
    [property: JsonPropertyName("value")] string Value,
    [property: JsonPropertyName("expires_on")] DateTimeOffset ExpiresOn);

/// <summary>One line of <c>audit.jsonl</c>: one key-sync attempt. No key material, token or secret.</summary>
internal sealed record AuditRecord(
    [property: JsonPropertyName("timestamp")] DateTimeOffset Timestamp,
    [property: JsonPropertyName("command")] string Command,
    [property: JsonPropertyName("vm_name")] string VmName,
    [property: JsonPropertyName("resource_group")] string? ResourceGroup,
    [property: JsonPropertyName("synced")] bool Synced,
    [property: JsonPropertyName("already_present")] bool AlreadyPresent,
    [property: JsonPropertyName("method")] string Method,
    [property: JsonPropertyName("user")] string? User,
    [property: JsonPropertyName("key_fingerprint")] string? KeyFingerprint,
    [property: JsonPropertyName("duration_ms")] long DurationMs,
    [property: JsonPropertyName("dry_run")] bool DryRun,
    [property: JsonPropertyName("error")] string? Error);

/// <summary>One VM's line in <c>keys sync --json</c>.</summary>
internal sealed record SyncReportEntry(
    [property: JsonPropertyName("vm")] string Vm,
    [property: JsonPropertyName("resource_group")] string? ResourceGroup,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("method")] string Method,
    [property: JsonPropertyName("duration_ms")] long DurationMs,
    [property: JsonPropertyName("error")] string? Error,
    [property: JsonPropertyName("advice")] string? Advice);

internal sealed record SyncReport(
    [property: JsonPropertyName("ok")] bool Ok,
    [property: JsonPropertyName("vms")] IReadOnlyList<SyncReportEntry> Vms);

/// <summary>Progress of one <c>keys rotate</c> run, saved after every step so a re-run resumes.</summary>
internal sealed record RotationState(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("started")] DateTimeOffset Started,
    [property: JsonPropertyName("vms")] List<RotationVmState> Vms);

internal sealed record RotationVmState(
    [property: JsonPropertyName("vm")] string Vm,
    [property: JsonPropertyName("resource_group")] string? ResourceGroup,
    [property: JsonPropertyName("old_public_key")] string? OldPublicKey,
    [property: JsonPropertyName("step")] string Step,
    [property: JsonPropertyName("error")] string? Error);

internal sealed record StatusKey(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("fingerprint")] string Fingerprint,
    [property: JsonPropertyName("comment")] string? Comment,
    [property: JsonPropertyName("managed")] bool Managed,
    [property: JsonPropertyName("expiry")] string? Expiry,
    [property: JsonPropertyName("options")] string? Options);

internal sealed record StatusReport(
    [property: JsonPropertyName("vm")] string Vm,
    [property: JsonPropertyName("user")] string User,
    [property: JsonPropertyName("home")] string? Home,
    [property: JsonPropertyName("latch_key_present")] bool LatchKeyPresent,
    [property: JsonPropertyName("agent")] bool Agent,
    [property: JsonPropertyName("keys")] IReadOnlyList<StatusKey> Keys);

internal sealed record VmListEntry(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("resource_group")] string ResourceGroup,
    [property: JsonPropertyName("location")] string? Location,
    [property: JsonPropertyName("size")] string? Size,
    [property: JsonPropertyName("os")] string? Os,
    [property: JsonPropertyName("admin_user")] string? AdminUser,
    [property: JsonPropertyName("power_state")] string? PowerState);

internal sealed record DoctorCheck(
    [property: JsonPropertyName("check")] string Check,
    [property: JsonPropertyName("ok")] bool? Ok,
    [property: JsonPropertyName("detail")] string Detail);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = false, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(EntraTokenWire))]
[JsonSerializable(typeof(EntraErrorWire))]
[JsonSerializable(typeof(AzCliTokenWire))]
[JsonSerializable(typeof(OpenIdConfigurationWire))]
[JsonSerializable(typeof(EmulatorEndpointsWire))]
[JsonSerializable(typeof(VmCacheFile))]
[JsonSerializable(typeof(SessionCacheFile))]
[JsonSerializable(typeof(AuditRecord))]
[JsonSerializable(typeof(SyncReport))]
[JsonSerializable(typeof(RotationState))]
[JsonSerializable(typeof(StatusReport))]
[JsonSerializable(typeof(List<VmListEntry>))]
[JsonSerializable(typeof(List<DoctorCheck>))]
[JsonSerializable(typeof(List<AuditRecord>))]
internal sealed partial class CliJsonContext : JsonSerializerContext
{
    /// <summary>For what latch prints: '+' in fingerprints and quotes in messages stay readable.</summary>
    public static CliJsonContext Output { get; } = new(new JsonSerializerOptions(JsonSerializerDefaults.Web)
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    });
}
