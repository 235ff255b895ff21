using System.Globalization;
using System.Net.Http.Headers;

namespace Latch.Azure;

/// <summary>
/// How a client retries: jittered exponential backoff between attempts, bounded by <see cref="MaxAttempts"/>
/// and by <see cref="TotalDeadline"/> (whichever comes first). A server's Retry-After is honoured when longer.
/// </summary>
public sealed record RetryOptions
{
    /// <summary>Requests sent at most, the first included.</summary>
    public int MaxAttempts { get; init; } = 10;

    /// <summary>Delay before the second attempt; it doubles each time up to <see cref="MaxDelay"/>.</summary>
    public TimeSpan InitialDelay { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Fraction of each delay that is random (0 = none, 0.5 = delay × [0.5, 1.5)).</summary>
    public double Jitter { get; init; } = 0.25;

    /// <summary>Time allowed for one logical call, all attempts and waits included.</summary>
    public TimeSpan TotalDeadline { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Seed for the jitter; set it in tests for repeatable delays.</summary>
    public int? RandomSeed { get; init; }

    internal void Validate(string client)
    {
        if (MaxAttempts < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxAttempts), MaxAttempts, $"{client}: RetryOptions.MaxAttempts must be at least 1.");
        }

        if (InitialDelay < TimeSpan.Zero || MaxDelay < InitialDelay)
        {
            throw new ArgumentOutOfRangeException(nameof(InitialDelay), InitialDelay, $"{client}: RetryOptions needs 0 <= InitialDelay <= MaxDelay.");
        }

        if (Jitter is < 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Jitter), Jitter, $"{client}: RetryOptions.Jitter must be within [0, 1].");
        }

        if (TotalDeadline <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(TotalDeadline), TotalDeadline, $"{client}: RetryOptions.TotalDeadline must be positive.");
        }
    }
}

/// <summary>Backoff arithmetic and Retry-After parsing; pure, so tests check it directly.</summary>
internal sealed class RetryPolicy(RetryOptions options, TimeProvider timeProvider)
{
    private readonly Random _random = options.RandomSeed is { } seed ? new Random(seed) : new Random();
    private readonly Lock _gate = new();

    public RetryOptions Options => options;

    /// <summary>The wait after failed attempt number <paramref name="attempt"/> (1-based).</summary>
    public TimeSpan BackoffAfter(int attempt)
    {
        var exponent = Math.Min(attempt - 1, 30);
        var ideal = Math.Min(options.InitialDelay.TotalMilliseconds * Math.Pow(2, exponent), options.MaxDelay.TotalMilliseconds);
        double unit;
        lock (_gate)
        {
            unit = _random.NextDouble();
        }

        // spread over [1 - jitter, 1 + jitter) so retries from many VMs don't arrive in step
        var factor = 1 - options.Jitter + (2 * options.Jitter * unit);
        return TimeSpan.FromMilliseconds(Math.Min(ideal * factor, options.MaxDelay.TotalMilliseconds));
    }

    /// <summary>
    /// The server's requested wait: <c>retry-after-ms</c> / <c>x-ms-retry-after-ms</c> (Azure) or <c>Retry-After</c>
    /// as seconds or an HTTP date. Null when absent or unreadable.
    /// </summary>
    public TimeSpan? RetryAfter(HttpResponseHeaders headers)
    {
        foreach (var name in (ReadOnlySpan<string>)["retry-after-ms", "x-ms-retry-after-ms"])
        {
            if (headers.TryGetValues(name, out var values)
                && double.TryParse(values.FirstOrDefault(), NumberStyles.Float, CultureInfo.InvariantCulture, out var ms) && ms >= 0)
            {
                return TimeSpan.FromMilliseconds(ms);
            }
        }

        if (headers.RetryAfter is { } retryAfter)
        {
            if (retryAfter.Delta is { } delta)
            {
                return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
            }

            if (retryAfter.Date is { } date)
            {
                var wait = date - timeProvider.GetUtcNow();
                return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
            }
        }

        return null;
    }

    /// <summary>Default set of statuses worth another attempt: 408, 429, 500, 502, 503, 504.</summary>
    public static bool IsTransient(int status) => status is 408 or 429 or 500 or 502 or 503 or 504;
}
