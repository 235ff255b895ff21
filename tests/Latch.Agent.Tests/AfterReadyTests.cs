using Latch.Agent.Daemon;
using Latch.Agent.KeyVaultPull;

namespace Latch.Agent.Tests;

public sealed class AfterReadyTests
{
    [Theory]
    [InlineData(new[] { "run", "--after-ready" }, true, false)]
    [InlineData(new[] { "run", "--after-ready", "--verbose" }, true, true)]
    [InlineData(new[] { "run" }, false, false)]
    [InlineData(new[] { "run", "--verbose", "--after-ready" }, false, false)]
    [InlineData(new[] { "run", "--after-ready", "--extra" }, false, false)]
    [InlineData(new string[0], false, false)]
    public void Only_run_after_ready_with_an_optional_verbose_is_the_re_executed_image_s_command_line(string[] args, bool expected, bool verbose)
    {
        Assert.Equal(expected, AfterReady.IsInvocation(args, out var isVerbose));
        Assert.Equal(verbose, isVerbose);
    }

    [Fact]
    public void The_argument_vector_keeps_latchd_as_its_name_so_ps_shows_latchd_run_after_ready()
    {
        Assert.Equal(["latchd", "run", "--after-ready"], AfterReady.Arguments(verbose: false));
        Assert.Equal(["latchd", "run", "--after-ready", "--verbose"], AfterReady.Arguments(verbose: true));
    }

    [Fact]
    public void Latchd_guard_next_to_latchd_comes_first_and_latchd_itself_is_the_fallback()
    {
        var directory = Path.Combine(Path.GetTempPath(), "latch-after-ready-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        try
        {
            var latchd = Path.Combine(directory, "latchd");
            File.WriteAllText(latchd, "");
            Assert.Equal([latchd], AfterReady.Images(latchd));

            File.WriteAllText(Path.Combine(directory, "latchd-guard"), "");
            Assert.Equal([Path.Combine(directory, "latchd-guard"), latchd], AfterReady.Images(latchd));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Latchd_itself_carries_the_Key_Vault_pull()
    {
        // latchd-guard sets the switch to false; latchd (and these tests) must not, or the pull would silently stop
        Assert.True(KeyVaultPuller.IsSupported);
    }
}
