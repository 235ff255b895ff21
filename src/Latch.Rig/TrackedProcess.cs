using System.Diagnostics;
using System.Text;
using Latch.Rig.Interop;

namespace Latch.Rig;

/// <summary>
/// A long-running program the rig started (sshd, waagent, the emulator). Its output is kept (the last
/// 256 KiB) for diagnostics and line waits; <see cref="StopAsync"/> ends it by pid: SIGTERM, then SIGKILL.
/// </summary>
internal sealed class TrackedProcess : IAsyncDisposable
{
    private const int MaxLogChars = 256 * 1024;
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly Lock _gate = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Found)> _waiters = [];
    private int _disposed;
    private volatile bool _released;

    private TrackedProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }

    public int Pid => _process.Id;

    public bool HasExited => _released || _process.HasExited;

    /// <summary>Everything the program wrote on stdout and stderr so far (interleaved by line, bounded).</summary>
    public string Log
    {
        get
        {
            lock (_gate)
            {
                return _log.ToString();
            }
        }
    }

    public static TrackedProcess Start(string name, IReadOnlyList<string> argv, IReadOnlyDictionary<string, string>? environment = null)
    {
        var process = new Process { StartInfo = Command.CreateStartInfo(argv, environment), EnableRaisingEvents = true };
        var tracked = new TrackedProcess(name, process);
        process.OutputDataReceived += (_, e) => tracked.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => tracked.OnLine(e.Data);
        process.Exited += (_, _) => tracked.OnExited();
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            process.Dispose();
            throw new RigException($"cannot start {name} ('{argv[0]}'): {e.Message}", e);
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return tracked;
    }

    /// <summary>Waits for an output line (already seen or future) that matches; fails when the program exits first.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan deadline, CancellationToken cancellationToken = default)
    {
        var found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            var seen = _log.ToString().Split('\n').FirstOrDefault(match);
            if (seen is not null)
            {
                return seen;
            }

            _waiters.Add((match, found));
        }

        if (_process.HasExited)
        {
            OnExited();
        }

        try
        {
            return await found.Task.WaitAsync(deadline, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new RigException($"{Name} (pid {Pid}) printed no expected line within {deadline.TotalSeconds} s; its output:\n{Log}");
        }
    }

    public async Task<int> WaitForExitAsync(TimeSpan deadline, CancellationToken cancellationToken = default)
    {
        await _process.WaitForExitAsync(cancellationToken).WaitAsync(deadline, cancellationToken);
        return _process.ExitCode;
    }

    /// <summary>SIGTERM, up to <paramref name="grace"/> to exit, then SIGKILL. Safe to call more than once.</summary>
    public async Task StopAsync(TimeSpan? grace = null)
    {
        if (_released || _process.HasExited)
        {
            return;
        }

        _ = Libc.Kill(_process.Id, Libc.SIGTERM);
        try
        {
            await _process.WaitForExitAsync().WaitAsync(grace ?? TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
            _ = Libc.Kill(_process.Id, Libc.SIGKILL);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    /// <summary>Stops the program (see <see cref="StopAsync"/>) and releases it; later calls do nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        // a VM and the code that started a process may both dispose it: only the first call touches the Process
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await StopAsync();
        }
        finally
        {
            _released = true;
            _process.Dispose();
        }
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        List<TaskCompletionSource<string>> matched = [];
        lock (_gate)
        {
            _log.Append(line).Append('\n');
            if (_log.Length > MaxLogChars)
            {
                _log.Remove(0, _log.Length - MaxLogChars);
            }

            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Match(line))
                {
                    matched.Add(_waiters[i].Found);
                    _waiters.RemoveAt(i);
                }
            }
        }

        foreach (var found in matched)
        {
            found.TrySetResult(line);
        }
    }

    private async void OnExited()
    {
        try
        {
            // the Exited event can come before the last lines: let the output drain so the error shows them
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            // report with what we have
        }

        List<TaskCompletionSource<string>> waiting;
        lock (_gate)
        {
            waiting = [.. _waiters.Select(w => w.Found)];
            _waiters.Clear();
        }

        foreach (var found in waiting)
        {
            found.TrySetException(new RigException($"{Name} exited (code {SafeExitCode()}) before printing the expected line; its output:\n{Log}"));
        }
    }

    private string SafeExitCode()
    {
        try
        {
            return _process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (InvalidOperationException)
        {
            return "unknown";
        }
    }
}
