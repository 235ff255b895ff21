using Microsoft.Extensions.Logging;

namespace Latch.Emulator;

/// <summary>Every log message of latch-emulator. Arguments never carry a secret, token, password or query value.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "{Group} {Method} {Path} -> {Status} in {DurationMs:F1} ms from {Remote}{FaultNote}")]
    public static partial void Request(ILogger logger, string group, string method, string path, int status, double durationMs, string remote, string faultNote);

    [LoggerMessage(2, LogLevel.Information, "{Group} listening on {Url}")]
    public static partial void Listening(ILogger logger, string group, string url);

    [LoggerMessage(3, LogLevel.Information, "health report from {Vm}: {Kind} {State} {SubStatus} (incarnation {Incarnation})")]
    public static partial void HealthReported(ILogger logger, string vm, string kind, string state, string? subStatus, string? incarnation);

    [LoggerMessage(4, LogLevel.Warning, "rejected a malformed request to {Group} {Path}: {Reason}")]
    public static partial void Rejected(ILogger logger, string group, string path, string reason);

    [LoggerMessage(5, LogLevel.Information, "VM {Vm}: incarnation is now {Incarnation} ({Reason})")]
    public static partial void IncarnationChanged(ILogger logger, string vm, int incarnation, string reason);

    [LoggerMessage(6, LogLevel.Information, "fault added: {Fault}")]
    public static partial void FaultAdded(ILogger logger, string fault);

    [LoggerMessage(7, LogLevel.Information, "faults cleared: {Count}")]
    public static partial void FaultsCleared(ILogger logger, int count);

    [LoggerMessage(8, LogLevel.Information, "provisioning media for {Vm} written to {Directory} (iso: {Iso})")]
    public static partial void MediaWritten(ILogger logger, string vm, string directory, string iso);

    [LoggerMessage(9, LogLevel.Information, "hostile agent for {Vm} started: every {IntervalMs} ms, at most {MaxRewrites} rewrites, target {Target}")]
    public static partial void HostileStarted(ILogger logger, string vm, int intervalMs, int maxRewrites, string target);

    [LoggerMessage(10, LogLevel.Information, "hostile agent for {Vm} stopped after {Rewrites} rewrites")]
    public static partial void HostileStopped(ILogger logger, string vm, int rewrites);

    [LoggerMessage(11, LogLevel.Warning, "hostile agent for {Vm} failed to rewrite {Target}: {Error}")]
    public static partial void HostileFailed(ILogger logger, string vm, string target, string error);

    [LoggerMessage(12, LogLevel.Warning, "no ISO tool (genisoimage or xorriso) found; wrote ovf-env.xml for {Vm} without an ISO image")]
    public static partial void NoIsoTool(ILogger logger, string vm);

    [LoggerMessage(13, LogLevel.Warning, "{Vm}'s agent reports unhealthy: {Observations}")]
    public static partial void UnhealthyObservations(ILogger logger, string vm, string observations);
}
