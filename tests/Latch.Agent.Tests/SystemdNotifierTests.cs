using System.Net.Sockets;
using System.Text;
using Latch.Agent.Daemon;

namespace Latch.Agent.Tests;

public sealed class SystemdNotifierTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Sends_one_datagram_to_a_path_or_an_abstract_notify_socket(bool isAbstract)
    {
        var name = "latchd-notify-" + Guid.NewGuid().ToString("N")[..8];
        var path = isAbstract ? "@" + name : Path.Combine(AppContext.BaseDirectory, name + ".sock");
        using var systemd = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        systemd.Bind(new UnixDomainSocketEndPoint(isAbstract ? "\0" + name : path));
        try
        {
            var notifier = new SystemdNotifier(path);

            Assert.True(notifier.Notify("READY=1\nSTATUS=provisioned"));

            var buffer = new byte[256];
            systemd.ReceiveTimeout = 10_000;
            var received = systemd.Receive(buffer);
            Assert.Equal("READY=1\nSTATUS=provisioned", Encoding.UTF8.GetString(buffer, 0, received));
        }
        finally
        {
            if (!isAbstract)
            {
                File.Delete(path);
            }
        }
    }

    [Fact]
    public void Without_notify_socket_nothing_is_sent()
    {
        Assert.False(new SystemdNotifier(null).Notify("READY=1"));
        Assert.False(new SystemdNotifier(null).IsEnabled);
        Assert.False(new SystemdNotifier("/nonexistent/notify.sock").Notify("READY=1"));
    }
}
