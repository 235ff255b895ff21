using Microsoft.Extensions.Logging;

namespace Latch.Agent.Guard;

/// <summary>The key guard's log messages (event ids 2000-2999). Arguments are names, paths and fingerprints, never key material.</summary>
internal static partial class GuardLog
{
    [LoggerMessage(2000, LogLevel.Information, "guard: watching {Users} managed user(s) with inotify ({Watches} watches)")]
    public static partial void Watching(ILogger logger, int users, int watches);

    [LoggerMessage(2001, LogLevel.Warning, "guard: inotify unavailable for {User} ({Reason}); checking every {Seconds} s instead")]
    public static partial void PollingFallback(ILogger logger, string user, string reason, double seconds);

    [LoggerMessage(2002, LogLevel.Warning, "guard: restored {Count} managed key(s) for {User} after {Cause} in {DurationMs:0.0} ms: {Fingerprints}")]
    public static partial void Restored(ILogger logger, int count, string user, string cause, double durationMs, string fingerprints);

    [LoggerMessage(2003, LogLevel.Information, "guard: removed {Count} retired key(s) for {User}: {Fingerprints}")]
    public static partial void Removed(ILogger logger, int count, string user, string fingerprints);

    [LoggerMessage(2004, LogLevel.Error, "guard: refused to restore keys for {User}: {Reason}")]
    public static partial void Refused(ILogger logger, string user, string reason);

    [LoggerMessage(2005, LogLevel.Warning, "guard: {User} has managed keys but no passwd entry; skipped")]
    public static partial void UnknownUser(ILogger logger, string user);

    [LoggerMessage(2006, LogLevel.Warning, "guard: the key store of {User} is unusable: {Problem}")]
    public static partial void StoreUnusable(ILogger logger, string user, string problem);

    [LoggerMessage(2007, LogLevel.Error, "guard: cannot write the audit log: {Problem}")]
    public static partial void AuditFailed(ILogger logger, string problem);

    [LoggerMessage(2008, LogLevel.Information, "guard: {User}'s authorized_keys was rewritten in place while the guard restored it; the writer's lines were kept")]
    public static partial void RecoveredConcurrentWrite(ILogger logger, string user);

    [LoggerMessage(2010, LogLevel.Information, "keyvault: {Users} user(s), {Keys} key(s) after a pull from {Vault} ({Requests} request(s))")]
    public static partial void Pulled(ILogger logger, int users, int keys, string vault, int requests);

    [LoggerMessage(2011, LogLevel.Warning, "keyvault: pull from {Vault} failed; keeping the last known good keys: {Reason}")]
    public static partial void PullFailed(ILogger logger, string vault, string reason);

    [LoggerMessage(2012, LogLevel.Warning, "keyvault: secret {Secret} skipped: {Reason}")]
    public static partial void SecretSkipped(ILogger logger, string secret, string reason);

    [LoggerMessage(2013, LogLevel.Warning, "keyvault: {Problem}")]
    public static partial void StatusNotRecorded(ILogger logger, string problem);

    [LoggerMessage(2014, LogLevel.Debug, "keyvault: first pull in {DelaySeconds:0.0} s (start jitter)")]
    public static partial void StartJitter(ILogger logger, double delaySeconds);

    [LoggerMessage(2020, LogLevel.Information, "control: listening on {Path}")]
    public static partial void Listening(ILogger logger, string path);

    [LoggerMessage(2021, LogLevel.Warning, "control: {Problem}")]
    public static partial void ControlProblem(ILogger logger, string problem);
}
