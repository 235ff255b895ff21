using System.Net.Sockets;
using System.Text;

namespace Latch.Agent.Daemon;

/// <summary>
/// sd_notify(3) without libsystemd: one datagram to <c>$NOTIFY_SOCKET</c> (a path, or '@' for the abstract namespace).
/// The same protocol Microsoft.Extensions.Hosting.Systemd speaks, without the generic host it brings into a NativeAOT
/// binary. Does nothing when latchd was not started by systemd with Type=notify.
/// </summary>
internal sealed class SystemdNotifier(string? socketPath)
{
    public static SystemdNotifier FromEnvironment() => new(Environment.GetEnvironmentVariable("NOTIFY_SOCKET"));

    public bool IsEnabled => !string.IsNullOrEmpty(socketPath);

    /// <summary>Sends e.g. "READY=1\nSTATUS=…"; returns false when there is no socket or the send failed.</summary>
    public bool Notify(string state)
    {
        if (!IsEnabled)
        {
            return false;
        }

        var path = socketPath![0] == '@' ? "\0" + socketPath[1..] : socketPath;
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(path));
            socket.Send(Encoding.UTF8.GetBytes(state));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
