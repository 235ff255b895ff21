using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Latch.Cli.Tests.Infrastructure;

/// <summary>What a latch process printed and how it exited.</summary>
internal sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

/// <summary>Runs the real latch binary (built next to the tests) as a child process with a controlled environment.</summary>
internal static class CliProcess
{
    /// <summary>
    /// The latch apphost in src/Latch.Cli's own output (same configuration as the tests): the copy next to the tests
    /// would load the test folder's ASP.NET-flavoured assemblies, not the ones latch ships with.
    /// </summary>
    public static string Binary { get; } = FindBinary();

    private static string FindBinary()
    {
        var tests = AppContext.BaseDirectory.TrimEnd('/');
        var marker = $"{Path.DirectorySeparatorChar}tests{Path.DirectorySeparatorChar}Latch.Cli.Tests{Path.DirectorySeparatorChar}";
        var at = tests.IndexOf(marker, StringComparison.Ordinal);
        var own = at < 0 ? null : Path.Combine(tests[..at], "src", "Latch.Cli", tests[(at + marker.Length)..], "latch");
        return own is not null && File.Exists(own) ? own : Path.Combine(AppContext.BaseDirectory, "latch");
    }

    public static async Task<CliResult> RunAsync(IReadOnlyDictionary<string, string?> environment, IReadOnlyList<string> arguments, string? stdin = null, TimeSpan? deadline = null)
    {
        var start = new ProcessStartInfo(Binary)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var name in (string[])["LATCH_EMULATOR", "LATCH_CONFIG", "LATCH_SSH", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "SSH_AUTH_SOCK"])
        {
            start.Environment.Remove(name);
        }

        start.Environment["DOTNET_ROOT"] = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "../../.."));
        foreach (var (name, value) in environment)
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("latch did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }

        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(deadline ?? TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"latch {string.Join(' ', arguments)} did not finish in time");
        }

        return new CliResult(process.ExitCode, await stdout, await stderr);
    }
}
