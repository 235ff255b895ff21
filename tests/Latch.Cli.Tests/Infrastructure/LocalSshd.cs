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
        _ = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        var server = new LocalSshd(process, port);
        for (var attempt = 0; attempt < 100; attempt++)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return server;
            }
            catch (SocketException)
            {
                if (process.HasExited)
                {
                    break;
                }

                await Task.Delay(100);
            }
        }

        await server.DisposeAsync();
        throw new InvalidOperationException("sshd did not start");
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
