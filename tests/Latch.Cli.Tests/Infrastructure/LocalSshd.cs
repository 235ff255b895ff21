using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Latch.Cli.Tests.Infrastructure;

/// <summary>
/// A real OpenSSH sshd on 127.0.0.1 that lives in an emulated VM's world: started inside <c>unshare --mount</c> with
/// the VM's private /etc/passwd, so a login (and any script run over it) sees the VM's home, never the host's.
/// Stopped by pid on dispose.
/// </summary>
internal sealed class LocalSshd : IAsyncDisposable
{
    private readonly Process _process;

    private LocalSshd(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public static async Task<LocalSshd> StartAsync(string directory, string passwdPath)
    {
        var sshd = Requires.Tool("sshd", "openssh-server");
        Directory.CreateDirectory("/run/sshd");
        var hostKey = Path.Combine(directory, "ssh_host_ed25519_key");
        if (!File.Exists(hostKey))
        {
            await CliWorld.RunToolAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey);
        }

        // A free port is only a guess until sshd binds it: another test's listener may take it in between. sshd -e
        // says "Server listening on 127.0.0.1 port N" once it owns the port, so wait for that line from OUR process
        // (a connect probe would also succeed against someone else's listener) and pick another port if it died.
        for (var attempt = 0; attempt < 5; attempt++)
        {
            int port;
            using (var probe = new TcpListener(IPAddress.Loopback, 0))
            {
                probe.Start();
                port = ((IPEndPoint)probe.LocalEndpoint).Port;
            }

            var start = new ProcessStartInfo("unshare") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var argument in (string[])[
                "--mount", "--propagation", "private", "--", "/bin/sh", "-c", "mount --bind \"$1\" /etc/passwd && shift && exec \"$@\"", "sh", passwdPath,
                sshd, "-D", "-e", "-f", "/dev/null", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-o", "ListenAddress=127.0.0.1", "-h", hostKey,
                "-o", "AuthorizedKeysFile=.ssh/authorized_keys", "-o", "PermitRootLogin=prohibit-password",
                "-o", "UsePAM=no", "-o", "PidFile=none", "-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no"])
            {
                start.ArgumentList.Add(argument);
            }

            var process = Process.Start(start)!;
            _ = process.StandardOutput.ReadToEndAsync();
            var server = new LocalSshd(process, port);
            var listening = await WaitForListeningAsync(process, port);
            _ = process.StandardError.ReadToEndAsync();
            if (listening)
            {
                return server;
            }

            await server.DisposeAsync();
        }

        throw new InvalidOperationException("sshd did not start (5 attempts)");
    }

    /// <summary>True once sshd reports it listens on the port; false when it exits first or says nothing for 20 s.</summary>
    private static async Task<bool> WaitForListeningAsync(Process process, int port)
    {
        var expected = $"Server listening on 127.0.0.1 port {port.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            while (await process.StandardError.ReadLineAsync(deadline.Token) is { } line)
            {
                if (line.Contains(expected, StringComparison.Ordinal))
                {
                    return true;
                }
            }
        }
        catch (OperationCanceledException)
        {
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
