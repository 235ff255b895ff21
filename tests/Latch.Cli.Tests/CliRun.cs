using System.Diagnostics;
using System.Text;

namespace Latch.Cli.Tests;

/// <summary>Runs latch in-process (through the real command tree) or as a real child process.</summary>
internal static class CliRun
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Example => Path.Combine(RepoRoot, "examples", "authorized_keys");

    public static string Binary => Infrastructure.CliProcess.Binary;

    public static async Task<(int ExitCode, string Out, string Error)> InProcessAsync(string[] args, byte[]? stdin = null)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var streams = new CliStreams(() => new MemoryStream(stdin ?? []), output, error);
        var exitCode = await LatchCommandLine.RunAsync(args, streams, TestContext.Current.CancellationToken);
        return (exitCode, output.ToString(), error.ToString());
    }

    public static Process Start(params string[] args)
    {
        var start = new ProcessStartInfo(Binary)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return Process.Start(start)!;
    }

    public static async Task<(int ExitCode, string Out, string Error)> ProcessAsync(string[] args, string? stdin = null)
    {
        using var process = Start(args);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }

        process.StandardInput.Close();
        await WaitAsync(process);
        return (process.ExitCode, await output, await error);
    }

    /// <summary>Waits for exit with a generous deadline that only guards against a hang.</summary>
    public static async Task WaitAsync(Process process)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("latch did not exit");
        }
    }

    public static string WriteTemp(string content)
    {
        var path = Path.Combine(Path.GetTempPath(), $"latch-lint-{Guid.NewGuid():N}");
        File.WriteAllText(path, content);
        return path;
    }

    public static string[] GoodLines() =>
        File.ReadAllLines(Example).Where(l => !l.StartsWith("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOy65Y7J", StringComparison.Ordinal)).ToArray();

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Latch.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("cannot find the repository root (Latch.slnx) above " + AppContext.BaseDirectory);
    }
}
