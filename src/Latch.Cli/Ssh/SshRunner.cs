using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Latch.Cli.Ssh;

/// <summary>What a non-interactive ssh run produced.</summary>
internal sealed record SshRunResult(int ExitCode, string Stdout, string Stderr, bool TimedOut)
{
    /// <summary>ssh's own failure (255) with a refused login, as opposed to a network failure.</summary>
    public bool AuthenticationFailed => ExitCode == 255 && Stderr.Contains("Permission denied", StringComparison.Ordinal);

    public string Describe()
    {
        if (TimedOut)
        {
            return "ssh did not finish in time";
        }

        var last = Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        return $"ssh exited {ExitCode}{(last is null ? "" : ": " + last)}";
    }
}

/// <summary>Runs the system ssh non-interactively (BatchMode) and probes whether sshd answers.</summary>
internal sealed class SshRunner(string program, TimeProvider time)
{
    public string Program => program;

    /// <summary>
    /// <c>ssh -o BatchMode=yes … DEST bash -s</c> with <paramref name="stdin"/> as the script: no password prompt, no
    /// host-key prompt, nothing written to the user's terminal.
    /// </summary>
    public async Task<SshRunResult> RunAsync(SshTarget target, IReadOnlyList<string> remoteCommand, string? stdin, TimeSpan timeout, TimeSpan? connectTimeoutLimit = null, CancellationToken cancellationToken = default)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // ssh's ConnectTimeout covers the TCP connect and sshd's banner
        var connectTimeout = (int)Math.Clamp(Math.Min(timeout.TotalSeconds, connectTimeoutLimit?.TotalSeconds ?? 30), 1, 30);
        foreach (var argument in (string[])["-o", "BatchMode=yes", "-o", $"ConnectTimeout={connectTimeout}", "-T"])
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var argument in target.BaseArguments())
        {
            start.ArgumentList.Add(argument);
        }

        start.ArgumentList.Add(target.Destination);
        foreach (var argument in remoteCommand)
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("no process");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            throw new CliException(ExitCodes.SshExecFailed, $"cannot run '{program}': {e.Message}. Install OpenSSH's client or set ssh.program.", e);
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
            try
            {
                if (stdin is not null)
                {
                    await process.StandardInput.WriteAsync(stdin.AsMemory(), cancellationToken).ConfigureAwait(false);
                }

                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // ssh ended before reading its input; its exit code says why
            }

            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            var timedOut = false;
            try
            {
                await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                timedOut = !cancellationToken.IsCancellationRequested;
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
            }

            return new SshRunResult(timedOut ? 255 : process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false), timedOut);
        }
    }

    /// <summary>
    /// One look at the port: connected and sshd's banner (<c>SSH-2.0-…</c>) arrived, or why not ("connection
    /// refused", "timed out", "no SSH banner"). A VM still booting refuses or drops connections.
    /// </summary>
    /// <summary>
    /// Runs ssh as a child on this terminal (stdin, stdout, stderr inherited) and returns its exit code (128 + signal
    /// when a signal ended it). Cancellation (latch got SIGTERM or SIGINT) passes SIGTERM on to ssh and waits for it.
    /// </summary>
    public static async Task<int> RunAttachedAsync(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken = default)
    {
        var start = new ProcessStartInfo(program) { UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new CliException(ExitCodes.SshExecFailed, $"cannot run '{program}'");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new CliException(ExitCodes.SshExecFailed, $"cannot run '{program}': {e.Message}. Install the OpenSSH client or set ssh.program.", e);
        }

        using (process)
        {
            try
            {
                await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Interop.Native.Terminate(process.Id);
                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            }

            return process.ExitCode;
        }
    }

    public async Task<string?> ProbeAsync(string host, int port, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(host, port, deadline.Token).ConfigureAwait(false);
            var buffer = new byte[256];
            var received = 0;
            while (received < buffer.Length)
            {
                var n = await socket.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None, deadline.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    return "the connection closed before sshd's banner";
                }

                received += n;
                var text = Encoding.ASCII.GetString(buffer, 0, received);
                if (text.Contains("SSH-", StringComparison.Ordinal) && text.Contains('\n', StringComparison.Ordinal))
                {
                    return null;
                }
            }

            return "no SSH banner";
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return "timed out";
        }
        catch (SocketException e)
        {
            return e.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => "connection refused",
                SocketError.HostUnreachable or SocketError.NetworkUnreachable => "host unreachable",
                SocketError.TimedOut => "timed out",
                SocketError.ConnectionReset => "connection reset",
                _ => e.Message,
            };
        }
    }

    /// <summary>
    /// Waits until sshd answers, retrying with exponential backoff (1 s doubling to 10 s) up to <paramref name="limit"/>,
    /// with a countdown on <paramref name="progress"/>. Returns null when up, else the last reason.
    /// </summary>
    public async Task<string?> WaitAsync(string host, int port, TimeSpan limit, Action<string, bool>? progress, CancellationToken cancellationToken = default)
    {
        var started = time.GetTimestamp();
        var delay = TimeSpan.FromSeconds(1);
        while (true)
        {
            var left = limit - time.GetElapsedTime(started);
            var why = await ProbeAsync(host, port, TimeSpan.FromSeconds(Math.Clamp(left.TotalSeconds, 0.5, 5)), cancellationToken).ConfigureAwait(false);
            if (why is null)
            {
                return null;
            }

            left = limit - time.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                return why;
            }

            var wait = delay < left ? delay : left;
            var first = (int)Math.Ceiling(wait.TotalSeconds);
            for (var remaining = first; remaining > 0; remaining--)
            {
                progress?.Invoke($"waiting for SSH on {host}:{port} ({why}); retry in {remaining} s, {Math.Max(0, (int)(limit - time.GetElapsedTime(started)).TotalSeconds)} s left", remaining == first);
                var step = wait < TimeSpan.FromSeconds(1) ? wait : TimeSpan.FromSeconds(1);
                await Task.Delay(step, time, cancellationToken).ConfigureAwait(false);
                wait -= step;
            }

            delay = delay * 2 > TimeSpan.FromSeconds(10) ? TimeSpan.FromSeconds(10) : delay * 2;
        }
    }
}
