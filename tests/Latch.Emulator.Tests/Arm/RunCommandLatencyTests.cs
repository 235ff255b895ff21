using Microsoft.Extensions.Time.Testing;

namespace Latch.Emulator.Tests;

/// <summary>
/// Run-command latency on the emulator's clock: by default a script starts only after Azure-like seconds of it have
/// passed; set to zero (what tests and `--run-command-latency 0` use) it starts at once. A fake clock, so no assertion
/// depends on how fast this machine is.
/// </summary>
public sealed class RunCommandLatencyTests
{
    private static readonly Scenario s_scenario = new() { Vms = [new VmDefinition { Name = "vm1", ResourceGroup = "latch-rg" }] };

    /// <summary>Advances the fake clock in 100 ms steps until the command finishes; returns how much fake time that took.</summary>
    private static async Task<TimeSpan> FakeTimeUntilDoneAsync(ArmOptions options, bool moveClock = true)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero));
        await using var state = new ArmState(s_scenario, options, time);
        Assert.True(state.TryStartRunCommand(s_scenario.Vms[0], new RunCommandInputJson { CommandId = "RunShellScript", Script = ["echo started"] }, out var operation, out _));
        var advanced = TimeSpan.Zero;
        if (!moveClock)
        {
            await operation.Completion.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        }

        for (var step = 0; step < 1200 && !operation.Completion.IsCompleted; step++)
        {
            // let the background task reach its delay or finish the script in real time, then move the clock
            await Task.WhenAny(operation.Completion, Task.Delay(20, TestContext.Current.CancellationToken));
            if (!operation.Completion.IsCompleted)
            {
                time.Advance(TimeSpan.FromMilliseconds(100));
                advanced += TimeSpan.FromMilliseconds(100);
            }
        }

        Assert.True(operation.Completion.IsCompleted, "the run command never finished");
        Assert.Equal(RunCommandStatus.Succeeded, operation.Status);
        Assert.Equal("started\n", operation.Outcome!.Stdout);
        return advanced;
    }

    [Fact]
    public async Task By_default_a_script_starts_only_after_azure_like_seconds()
    {
        Assert.Equal(TimeSpan.FromSeconds(3), new ArmOptions().RunCommandLatency);
        Assert.Equal(new ArmOptions().RunCommandLatency, new EmulatorOptions { Scenario = s_scenario }.RunCommandLatency);

        var waited = await FakeTimeUntilDoneAsync(new ArmOptions());

        Assert.InRange(waited, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task With_zero_latency_a_script_starts_without_the_clock_moving()
    {
        // the clock never moves: a wait on it would never end
        var waited = await FakeTimeUntilDoneAsync(new ArmOptions { RunCommandLatency = TimeSpan.Zero }, moveClock: false);

        Assert.Equal(TimeSpan.Zero, waited);
    }

    [Theory]
    [InlineData(new string[0], null)]
    [InlineData(new[] { "--run-command-latency", "0" }, 0)]
    [InlineData(new[] { "--run-command-latency=1500" }, 1500)]
    public void The_command_line_keeps_the_default_unless_told(string[] flags, int? milliseconds)
    {
        var parsed = EmulatorCommand.Parse(["--scenario", "x.toml", .. flags]);

        Assert.Equal(milliseconds, parsed.RunCommandLatencyMs);
    }
}
