namespace Latch.Bench.Fleet;

/// <summary>
/// A clock that runs <c>scale</c> times faster than the real one: timestamps, UTC time and timers (a 60 s delay fires
/// after 60/scale real seconds). The pollers' schedule and the emulator's service-limit windows both run on it.
/// </summary>
internal sealed class ScaledTimeProvider(double scale) : TimeProvider
{
    private readonly long _startTimestamp = System.GetTimestamp();
    private readonly DateTimeOffset _startUtc = System.GetUtcNow();

    public double Scale { get; } = scale;

    public override long TimestampFrequency => System.TimestampFrequency;

    public override long GetTimestamp() => _startTimestamp + (long)((System.GetTimestamp() - _startTimestamp) * Scale);

    public override DateTimeOffset GetUtcNow() => _startUtc + System.GetElapsedTime(_startTimestamp) * Scale;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        new ScaledTimer(System.CreateTimer(callback, state, Real(dueTime), Real(period)), this);

    /// <summary>How long <paramref name="scaled"/> takes on the real clock.</summary>
    public TimeSpan Real(TimeSpan scaled) => scaled == Timeout.InfiniteTimeSpan || scaled <= TimeSpan.Zero ? scaled : scaled / Scale;

    private sealed class ScaledTimer(ITimer inner, ScaledTimeProvider time) : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period) => inner.Change(time.Real(dueTime), time.Real(period));

        public void Dispose() => inner.Dispose();

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
