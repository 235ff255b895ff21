using System.Text.Json.Serialization;

namespace Latch.Demo;

/// <summary>How a step ended: done as expected, failed (the demo stops), or not run here (the detail says why).</summary>
internal enum StepOutcome
{
    Ok,
    Failed,
    Skipped,
}

/// <summary>One step of the demo as the summary table and <c>--json</c> show it.</summary>
internal sealed record DemoStep(string Id, string Title, StepOutcome Outcome, double Seconds, string Detail);

/// <summary>One audit record, from latchd's log in a VM or from the latch CLI's own log.</summary>
internal sealed record AuditEntry(string Source, string Record);

/// <summary>
/// What <c>latch-demo --json</c> prints: the mode and why, every step, the audit records, and the cleanup.
/// <see cref="RigId"/> names what the real-VM mode made (namespaces lt-*-ID, /tmp/lt-ID); <see cref="Directory"/> is the
/// demo's own directory. Both are gone after cleanup.
/// </summary>
internal sealed record DemoResult(
    string Mode,
    string ModeReason,
    string? RigId,
    string Directory,
    bool Succeeded,
    double TotalSeconds,
    IReadOnlyList<DemoStep> Steps,
    IReadOnlyList<AuditEntry> Audit,
    string Cleanup);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true)]
[JsonSerializable(typeof(DemoResult))]
internal sealed partial class DemoJsonContext : JsonSerializerContext;
