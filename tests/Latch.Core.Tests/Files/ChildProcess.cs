using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Latch.Core.Tests.Files;

/// <summary>
/// Latch.SafeFileChild (built next to the tests through a project reference) as a real separate process.
/// Killed by pid on Dispose if it is still running.
/// </summary>
internal sealed class ChildProcess : IDisposable
{
    private readonly Process _process;

    public ChildProcess(params string[] arguments)
    {
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "Latch.SafeFileChild"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // the apphost must find the same runtime the tests run on, wherever it is installed
        start.Environment["DOTNET_ROOT"] = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "../../.."));
        _process = Process.Start(start) ?? throw new InvalidOperationException("Latch.SafeFileChild did not start");
        StandardError = _process.StandardError.ReadToEndAsync();
    }

    public Task<string> StandardError { get; }

    public int Id => _process.Id;

    /// <summary>The next line the child printed, or null at its end; fails the test after a generous deadline.</summary>
    public string? ReadLine(CancellationToken cancellationToken)
    {
        var line = _process.StandardOutput.ReadLineAsync(cancellationToken).AsTask();
        if (!line.Wait(TimeSpan.FromMinutes(2), cancellationToken))
        {
            throw new TimeoutException($"Latch.SafeFileChild (pid {Id}) printed nothing for 2 minutes");
        }

        return line.Result;
    }

    /// <summary>SIGKILL: the child gets no chance to clean up.</summary>
    public void KillHard()
    {
        _process.Kill();
        _process.WaitForExit();
    }

    public int WaitForExit()
    {
        if (!_process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            throw new TimeoutException($"Latch.SafeFileChild (pid {Id}) did not finish within 3 minutes");
        }

        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            KillHard();
        }

        _process.Dispose();
    }
}
