using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Latch.Cli.Tests;

/// <summary>latch as a real process: exit codes as a shell sees them, and real signals.</summary>
public sealed partial class KeysLintProcessTests
{
    [Fact]
    public async Task The_binary_exits_1_on_the_example_and_0_on_its_valid_lines()
    {
        var (bad, output, _) = await CliRun.ProcessAsync(["keys", "lint", CliRun.Example]);
        Assert.Equal(1, bad);
        Assert.Contains("5 keys, 1 malformed line", output, StringComparison.Ordinal);

        var (good, _, _) = await CliRun.ProcessAsync(["keys", "lint", "-"], string.Join('\n', CliRun.GoodLines()) + "\n");
        Assert.Equal(0, good);
    }

    [Fact]
    public async Task The_binary_exits_2_naming_a_missing_file()
    {
        var (exitCode, _, error) = await CliRun.ProcessAsync(["keys", "lint", "/nonexistent/keys"]);
        Assert.Equal(2, exitCode);
        Assert.Contains("cannot read '/nonexistent/keys'", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2, 130, "latch: interrupted")]
    [InlineData(15, 143, "latch: terminated")]
    public async Task A_signal_while_reading_stdin_ends_with_128_plus_the_signal(int signal, int expectedExit, string message)
    {
        using var process = CliRun.Start("keys", "lint", "-");
        var error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        try
        {
            await WaitUntilReadingStdinAsync(process);
            Assert.Equal(0, kill(process.Id, signal));
            await CliRun.WaitAsync(process);

            Assert.Equal(expectedExit, process.ExitCode);
            Assert.Contains(message, await error, StringComparison.Ordinal);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }
    }

    // The command blocks in read(0, …) once its signal handlers are in place; signalling earlier would test
    // the runtime's default handling instead of ours.
    private static async Task WaitUntilReadingStdinAsync(Process process)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromMinutes(1))
        {
            if (RuntimeInformation.ProcessArchitecture != Architecture.X64)
            {
                await Task.Delay(TimeSpan.FromSeconds(3));
                return;
            }

            // .NET reads a dup of fd 0, so compare what the fd points at (pipe:[inode]) rather than its number
            var stdin = new FileInfo($"/proc/{process.Id}/fd/0").LinkTarget;
            foreach (var task in Directory.EnumerateDirectories($"/proc/{process.Id}/task"))
            {
                try
                {
                    // x86-64: syscall 0 is read, and its first argument the fd (in hex)
                    var fields = File.ReadAllText(Path.Combine(task, "syscall")).Split(' ');
                    if (fields is ["0", var fd, ..]
                        && new FileInfo($"/proc/{process.Id}/fd/{Convert.ToInt32(fd, 16)}").LinkTarget == stdin)
                    {
                        return;
                    }
                }
                catch (IOException)
                {
                    // the thread ended while we looked
                }
            }

            await Task.Delay(50);
        }

        Assert.Fail("latch never started reading standard input");
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
