using Latch.Agent.Guard;

namespace Latch.Agent.KeyVaultPull;

/// <summary>
/// When a VM pulls from Key Vault. A fleet that reboots at once must not reach the vault at once: the first pull waits
/// a random delay, uniform in [0, poll interval) (<c>keyvault.start_jitter</c>, on by default), and every later pull
/// waits the interval ± <c>keyvault.jitter_percent</c>, doubled per consecutive failure up to 15 minutes. Time comes
/// from the <see cref="TimeProvider"/>, so tests and the fleet benchmark run it on a fake or scaled clock.
/// </summary>
internal sealed class PollSchedule(KeyVaultPullOptions options, TimeProvider time, Random? random = null)
{
    private readonly Random _random = random ?? Random.Shared;

    /// <summary>The wait before the first pull.</summary>
    public TimeSpan FirstDelay() =>
        options.StartJitter ? TimeSpan.FromTicks((long)(_random.NextDouble() * options.PollInterval.Ticks)) : TimeSpan.Zero;

    /// <summary>The wait after a pull, given how many pulls in a row have failed (0 after a success).</summary>
    public TimeSpan NextDelay(int consecutiveFailures)
    {
        var baseSeconds = Math.Min(options.PollInterval.TotalSeconds * Math.Pow(2, Math.Min(consecutiveFailures, 8)), Math.Max(900, options.PollInterval.TotalSeconds));
        var jitter = 1 + (((_random.NextDouble() * 2) - 1) * options.Jitter);
        return TimeSpan.FromSeconds(baseSeconds * jitter);
    }

    /// <summary>
    /// Pulls until cancelled: waits <see cref="FirstDelay"/>, then calls <paramref name="pull"/> (true when it succeeded)
    /// and waits <see cref="NextDelay"/> between calls. <paramref name="firstDelay"/> is told the first wait (for a log line).
    /// </summary>
    public async Task RunAsync(Func<CancellationToken, Task<bool>> pull, CancellationToken cancellationToken, Action<TimeSpan>? firstDelay = null)
    {
        ArgumentNullException.ThrowIfNull(pull);
        var delay = FirstDelay();
        firstDelay?.Invoke(delay);
        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
        }

        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            failures = await pull(cancellationToken).ConfigureAwait(false) ? 0 : failures + 1;
            await Task.Delay(NextDelay(failures), time, cancellationToken).ConfigureAwait(false);
        }
    }
}
