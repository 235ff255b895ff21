namespace Latch.Agent.Guard.Watch;

/// <summary>How the file guard reacts to changes (config section [guard]).</summary>
internal sealed record FileGuardOptions
{
    /// <summary>A burst of changes is handled once it has been quiet this long (guard.quiet_ms, default 20).</summary>
    public TimeSpan QuietWindow { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>…but never later than this after its first change, so a writer that never stops is still answered (guard.max_delay_ms, default 100).</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// A file written less than <see cref="QuietWindow"/> ago is probably being written right now (truncate, then
    /// write): replacing it then would drop what its writer is about to write. The guard waits for it to go quiet, but
    /// never longer than this after the first change (guard.max_defer_ms, default 1000), so a writer that never stops
    /// is still answered.
    /// </summary>
    public TimeSpan MaxDefer { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Without inotify (watches exhausted), every managed user is checked this often (guard.poll_seconds, default 5).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>With inotify, every managed user is still checked this often, as a safety net (guard.full_check_seconds, default 300).</summary>
    public TimeSpan FullCheckInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>latchd adds at most this many inotify watches; users past it are polled (guard.max_watches, default 8192).</summary>
    public int MaxWatches { get; init; } = 8192;
}

/// <summary>What the file guard is doing, for <c>latchd guard status</c>.</summary>
internal sealed record FileGuardStatus(
    string Mode,
    int Users,
    int Watches,
    IReadOnlyList<string> PolledUsers,
    string? FallbackReason,
    long Checks,
    long Restores,
    long Refusals,
    DateTimeOffset? LastRestore);
