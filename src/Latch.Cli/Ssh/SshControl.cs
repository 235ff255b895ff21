using System.Globalization;
using Latch.Cli.Config;

namespace Latch.Cli.Ssh;

/// <summary>
/// One SSH connection for both halves of <c>latch connect</c>: the BatchMode ssh that checks (and if needed appends)
/// the key becomes an OpenSSH ControlMaster on a socket private to this latch run, and the ssh that latch then
/// execs opens its session over that connection instead of a second key exchange and login. So checking that the
/// key is on the VM costs the script's run, not a login. When the check could not log in, no master exists and
/// the exec'd ssh connects on its own (ControlMaster=no falls back to a direct connection).
/// </summary>
internal sealed record SshControl(string SocketPath)
{
    /// <summary>Seconds the master waits, idle, for the exec'd ssh to attach (and lingers after its session ends).</summary>
    public const int PersistSeconds = 10;

    /// <summary>
    /// A socket path for this run under <c>$XDG_RUNTIME_DIR/latch</c> (else latch's cache directory), in a 0700
    /// directory; null when the path would be too long for a Unix socket (ssh adds a 17-character suffix while binding).
    /// </summary>
    public static SshControl? ForThisRun(CliContext cli, string suffix = "")
    {
        var runtime = cli.Environment("XDG_RUNTIME_DIR") is { Length: > 0 } r && Path.IsPathRooted(r) ? Path.Combine(r, "latch") : Path.Combine(cli.Paths.CacheDirectory, "ssh");
        var socket = Path.Combine(runtime, "c-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + suffix);
        if (socket.Length + 17 >= 108)
        {
            return null;
        }

        try
        {
            LatchPaths.EnsurePrivateDirectory(runtime);
            File.Delete(socket); // a socket left by an earlier process with this pid
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            cli.Detail($"no shared ssh connection: {e.Message}");
            return null;
        }

        return new SshControl(socket);
    }

    /// <summary>Options for the checking ssh: become the master and stay in the background briefly.</summary>
    public IReadOnlyList<string> MasterOptions =>
        ["-o", "ControlMaster=yes", "-o", "ControlPath=" + SocketPath, "-o", "ControlPersist=" + PersistSeconds.ToString(CultureInfo.InvariantCulture)];

    /// <summary>Asks the master on this socket, if one came up, to exit (an early check whose answer was not used).</summary>
    public async Task CloseAsync(string sshProgram)
    {
        if (!File.Exists(SocketPath))
        {
            return;
        }

        var start = new System.Diagnostics.ProcessStartInfo(sshProgram) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])["-F", "/dev/null", "-o", "ControlPath=" + SocketPath, "-O", "exit", "latch-control"])
        {
            start.ArgumentList.Add(argument);
        }

        try
        {
            using var process = System.Diagnostics.Process.Start(start);
            if (process is not null)
            {
                _ = process.StandardOutput.ReadToEndAsync();
                _ = process.StandardError.ReadToEndAsync();
                using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or OperationCanceledException)
        {
            // the master exits by itself after ControlPersist
        }
    }

    /// <summary>Options for the exec'd ssh: use the master when it is there, else connect directly.</summary>
    public IReadOnlyList<string> ClientOptions => ["-o", "ControlMaster=no", "-o", "ControlPath=" + SocketPath];
}
