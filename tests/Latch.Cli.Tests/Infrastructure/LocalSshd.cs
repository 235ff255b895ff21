using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Latch.Cli.Tests.Infrastructure;

/// <summary>
/// A real OpenSSH sshd on 127.0.0.1 that lives in an emulated VM's world: started inside <c>unshare --mount</c> with
/// the VM's private /etc/passwd (<see cref="PrivateEtc"/>), so a login (and any script run over it) sees the VM's home, never the host's.
/// Stopped by pid on dispose.
/// </summary>
internal sealed class LocalSshd : IAsyncDisposable
{
    private readonly Process _process;

    private readonly string _logPath;

    private LocalSshd(Process process, int port, string logPath)
    {
        _process = process;
        Port = port;
        _logPath = logPath;
    }

    public int Port { get; }

    /// <summary>sshd's DEBUG3 log so far (for failure messages: why a login was refused).</summary>
    public string Log => File.Exists(_logPath) ? File.ReadAllText(_logPath) : "(no sshd log)";

    /// <summary>The host key's public line, for a known_hosts file.</summary>
    public string HostPublicKey { get; private init; } = "";

    /// <summary>Starts sshd on 127.0.0.1 (and on <paramref name="alsoListenOn"/>, loopback addresses, same port).</summary>
    public static async Task<LocalSshd> StartAsync(string directory, string passwdPath, params string[] alsoListenOn)
    {
        var sshd = Requires.Tool("sshd", "openssh-server");
        Directory.CreateDirectory("/run/sshd");
        var hostKey = Path.Combine(directory, "ssh_host_ed25519_key");
        if (!File.Exists(hostKey))
        {
            await CliWorld.RunToolAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey);
        }

        // A free port is only a guess until sshd binds it: another test's listener may take it in between. sshd logs
        // "Server listening on 127.0.0.1 port N" once it owns the port, so wait for that line from OUR process's log
        // (a connect probe would also succeed against someone else's listener) and pick another port if it died.
        for (var attempt = 0; attempt < 5; attempt++)
        {
            int port;
            using (var probe = new TcpListener(IPAddress.Loopback, 0))
            {
                probe.Start();
                port = ((IPEndPoint)probe.LocalEndpoint).Port;
            }

            var logPath = Path.Combine(directory, $"sshd-{port.ToString(System.Globalization.CultureInfo.InvariantCulture)}.log");
            var command = PrivateEtc.Prefix(Path.GetDirectoryName(passwdPath)!);
            var start = new ProcessStartInfo(command[0]) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var argument in (string[])[
                .. command.Skip(1),
                sshd, "-D", "-E", logPath, "-o", "LogLevel=DEBUG3", "-f", "/dev/null", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-o", "ListenAddress=127.0.0.1", .. alsoListenOn.SelectMany(a => (string[])["-o", "ListenAddress=" + a]), "-h", hostKey,
                "-o", "AuthorizedKeysFile=.ssh/authorized_keys", "-o", "PermitRootLogin=prohibit-password",
                "-o", "UsePAM=no", "-o", "PidFile=none", "-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no"])
            {
                start.ArgumentList.Add(argument);
            }

            var process = Process.Start(start)!;
            _ = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            var server = new LocalSshd(process, port, logPath) { HostPublicKey = (await File.ReadAllTextAsync(hostKey + ".pub")).Trim() };
            var listening = await WaitForListeningAsync(process, port, logPath);
            if (listening)
            {
                return server;
            }

            await server.DisposeAsync();
        }

        throw new InvalidOperationException("sshd did not start (5 attempts)");
    }

    /// <summary>True once sshd logs that it listens on the port; false when it exits first or says nothing for 20 s.</summary>
    private static async Task<bool> WaitForListeningAsync(Process process, int port, string logPath)
    {
        var expected = $"Server listening on 127.0.0.1 port {port.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
        for (var i = 0; i < 400 && !process.HasExited; i++)
        {
            if (File.Exists(logPath) && (await File.ReadAllTextAsync(logPath)).Contains(expected, StringComparison.Ordinal))
            {
                return true;
            }

            await Task.Delay(50);
        }

        return false;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
