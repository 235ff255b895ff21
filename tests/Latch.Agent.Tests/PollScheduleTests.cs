using System.Threading.Channels;
using Latch.Agent.Guard;
using Latch.Agent.KeyVaultPull;
using Microsoft.Extensions.Time.Testing;

namespace Latch.Agent.Tests;

public sealed class PollScheduleTests
{
    private static readonly KeyVaultPullOptions Options = new() { PollInterval = TimeSpan.FromSeconds(60), Jitter = 0 };

    /// <summary>Runs the schedule on <paramref name="time"/>; each pull writes the fake clock's time into the channel.</summary>
    private static (Task Loop, ChannelReader<DateTimeOffset> Pulls) Start(PollSchedule schedule, FakeTimeProvider time, CancellationToken cancellationToken, Func<bool>? succeeds = null)
    {
        var pulls = Channel.CreateUnbounded<DateTimeOffset>();
        var loop = schedule.RunAsync(_ =>
        {
            pulls.Writer.TryWrite(time.GetUtcNow());
            return Task.FromResult(succeeds?.Invoke() ?? true);
        }, cancellationToken);
        return (loop, pulls.Reader);
    }

    private static async Task<DateTimeOffset> NextPullAsync(ChannelReader<DateTimeOffset> pulls)
    {
        // a deadline against hangs only: the fake clock decides when a pull happens
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        return await pulls.ReadAsync(deadline.Token);
    }

    [Fact]
    public async Task The_first_pull_waits_a_random_part_of_the_interval_and_later_pulls_follow_the_interval()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero));
        var start = time.GetUtcNow();
        var expectedFirst = TimeSpan.FromTicks((long)(new Random(7).NextDouble() * Options.PollInterval.Ticks));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var (loop, pulls) = Start(new PollSchedule(Options, time, new Random(7)), time, stop.Token);

        time.Advance(expectedFirst - TimeSpan.FromMilliseconds(1));
        Assert.False(pulls.TryRead(out _), "pulled before the start delay was over");
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(start + expectedFirst, await NextPullAsync(pulls));

        time.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal(start + expectedFirst + TimeSpan.FromSeconds(60), await NextPullAsync(pulls));
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop);
    }

    [Fact]
    public async Task With_start_jitter_off_the_first_pull_is_immediate()
    {
        var time = new FakeTimeProvider();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var (loop, pulls) = Start(new PollSchedule(Options with { StartJitter = false }, time), time, stop.Token);

        Assert.True(pulls.TryRead(out var first));
        Assert.Equal(time.GetUtcNow(), first);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop);
    }

    [Fact]
    public void A_fleets_start_delays_spread_evenly_over_the_whole_interval_and_never_past_it()
    {
        var schedule = new PollSchedule(Options, TimeProvider.System, new Random(11));
        var buckets = new int[10];
        const int Vms = 10_000;
        for (var i = 0; i < Vms; i++)
        {
            var delay = schedule.FirstDelay();
            Assert.InRange(delay, TimeSpan.Zero, Options.PollInterval - TimeSpan.FromTicks(1));
            buckets[(int)(delay / Options.PollInterval * buckets.Length)]++;
        }

        // uniform: every 6 s slice gets close to a tenth of the fleet (no thundering second)
        Assert.All(buckets, b => Assert.InRange(b, Vms / 10 * 85 / 100, Vms / 10 * 115 / 100));
    }

    [Fact]
    public async Task Failed_pulls_back_off_doubling_up_to_fifteen_minutes_and_a_success_resets_the_interval()
    {
        var time = new FakeTimeProvider();
        var results = new Queue<bool>([false, false, false, false, false, false, true, true]);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var (loop, pulls) = Start(new PollSchedule(Options with { StartJitter = false }, time), time, stop.Token, () => results.Dequeue());
        var previous = await NextPullAsync(pulls);
        var gaps = new List<double>();
        foreach (var expected in new[] { 120, 240, 480, 900, 900, 900, 60 })
        {
            time.Advance(TimeSpan.FromSeconds(expected));
            var next = await NextPullAsync(pulls);
            gaps.Add((next - previous).TotalSeconds);
            previous = next;
        }

        Assert.Equal([120, 240, 480, 900, 900, 900, 60], gaps);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop);
    }
}
