using System.Net.Http.Headers;
using Latch.Azure;
using Microsoft.Extensions.Time.Testing;

namespace Latch.Azure.Tests;

public sealed class RetryPolicyTests
{
    private static readonly RetryOptions Options = new()
    {
        InitialDelay = TimeSpan.FromSeconds(1),
        MaxDelay = TimeSpan.FromSeconds(30),
        Jitter = 0.25,
        RandomSeed = 7,
    };

    [Fact]
    public void Backoff_doubles_within_the_jitter_band_and_stops_at_the_cap()
    {
        var policy = new RetryPolicy(Options, TimeProvider.System);

        for (var attempt = 1; attempt <= 12; attempt++)
        {
            var ideal = Math.Min(Math.Pow(2, attempt - 1), 30);
            var delay = policy.BackoffAfter(attempt).TotalSeconds;
            Assert.InRange(delay, ideal * 0.75, Math.Min(ideal * 1.25, 30));
        }
    }

    [Fact]
    public void The_same_seed_gives_the_same_delays()
    {
        var a = new RetryPolicy(Options, TimeProvider.System);
        var b = new RetryPolicy(Options, TimeProvider.System);

        Assert.Equal(Enumerable.Range(1, 8).Select(a.BackoffAfter), Enumerable.Range(1, 8).Select(b.BackoffAfter));
    }

    [Fact]
    public void Jitter_spreads_delays_of_different_clients()
    {
        var a = new RetryPolicy(Options with { RandomSeed = 1 }, TimeProvider.System);
        var b = new RetryPolicy(Options with { RandomSeed = 2 }, TimeProvider.System);

        Assert.NotEqual(Enumerable.Range(1, 5).Select(a.BackoffAfter), Enumerable.Range(1, 5).Select(b.BackoffAfter));
    }

    [Fact]
    public void Reads_retry_after_as_seconds_as_an_http_date_and_as_azure_milliseconds()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2025, 11, 25, 12, 0, 0, TimeSpan.Zero));
        var policy = new RetryPolicy(Options, time);
        using var seconds = new HttpResponseMessage();
        seconds.Headers.TryAddWithoutValidation("Retry-After", "7");
        using var date = new HttpResponseMessage();
        date.Headers.TryAddWithoutValidation("Retry-After", "Tue, 25 Nov 2025 12:00:20 GMT");
        using var ms = new HttpResponseMessage();
        ms.Headers.TryAddWithoutValidation("x-ms-retry-after-ms", "250");
        ms.Headers.TryAddWithoutValidation("Retry-After", "9");
        using var none = new HttpResponseMessage();

        Assert.Equal(TimeSpan.FromSeconds(7), policy.RetryAfter(seconds.Headers));
        Assert.Equal(TimeSpan.FromSeconds(20), policy.RetryAfter(date.Headers));
        Assert.Equal(TimeSpan.FromMilliseconds(250), policy.RetryAfter(ms.Headers));
        Assert.Null(policy.RetryAfter(none.Headers));
    }

    [Theory]
    [InlineData(408, true)]
    [InlineData(429, true)]
    [InlineData(500, true)]
    [InlineData(502, true)]
    [InlineData(503, true)]
    [InlineData(504, true)]
    [InlineData(400, false)]
    [InlineData(401, false)]
    [InlineData(403, false)]
    [InlineData(404, false)]
    [InlineData(410, false)]
    public void Only_transient_statuses_are_retried_by_default(int status, bool retried) =>
        Assert.Equal(retried, RetryPolicy.IsTransient(status));

    [Fact]
    public void Imds_also_retries_404_and_410_and_wireserver_410()
    {
        Assert.True(ImdsClient.IsRetriable(404));
        Assert.True(ImdsClient.IsRetriable(410));
        Assert.False(ImdsClient.IsRetriable(403));
        Assert.True(WireServerClient.IsRetriable(410));
        Assert.False(WireServerClient.IsRetriable(404));
    }

    [Fact]
    public void Invalid_options_are_refused_with_the_client_named()
    {
        var options = new ImdsClientOptions { Retry = new RetryOptions { MaxAttempts = 0 } };

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new ImdsClient(options));

        Assert.Contains("IMDS", error.Message, StringComparison.Ordinal);
    }
}
