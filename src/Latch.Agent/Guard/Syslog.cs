using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Latch.Agent.Guard;

/// <summary>
/// A message to the local syslog socket (<c>/dev/log</c>, which journald also serves), as syslog(3) sends it:
/// <c>&lt;PRI&gt;TAG[PID]: MESSAGE</c> in one datagram, facility authpriv. Best effort: no socket, no message.
/// </summary>
internal static class Syslog
{
    public const int Error = 3;
    public const int Warning = 4;
    public const int Notice = 5;
    public const int Info = 6;
    private const int AuthPriv = 10 << 3;
    private const string SocketPath = "/dev/log";

    public static void Send(int severity, string tag, string message)
    {
        if (!File.Exists(SocketPath))
        {
            return;
        }

        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            var text = string.Create(CultureInfo.InvariantCulture, $"<{AuthPriv | severity}>{tag}[{Environment.ProcessId}]: {message}");
            socket.SendTo(Encoding.UTF8.GetBytes(text), new UnixDomainSocketEndPoint(SocketPath));
        }
        catch (SocketException)
        {
            // no syslog daemon listening: stderr already has the message
        }
    }
}
