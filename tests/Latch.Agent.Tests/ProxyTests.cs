using System.Net;
using System.Net.Sockets;
using System.Text;
using Latch.Agent.Config;
using Latch.Agent.Provisioning;
using Microsoft.Extensions.Logging.Abstractions;

namespace Latch.Agent.Tests;

public sealed class ProxyTests
{
    [Fact]
    public void The_proxy_is_bypassed_for_the_wireserver_and_imds_as_waagent_does()
    {
        var proxy = AgentClients.CreateProxy(new AgentConfig { HttpProxyHost = "proxy.example", HttpProxyPort = 8080 })!;

        Assert.Equal(new Uri("http://proxy.example:8080/"), proxy.Address);
        Assert.True(proxy.IsBypassed(new Uri("http://168.63.129.16/machine/?comp=goalstate")));
        Assert.True(proxy.IsBypassed(new Uri("http://169.254.169.254/metadata/instance")));
        Assert.False(proxy.IsBypassed(new Uri("http://metadata.example/metadata/instance")));
        Assert.Null(AgentClients.CreateProxy(new AgentConfig()));
    }

    [Fact]
    public async Task A_request_to_another_host_goes_through_the_configured_proxy()
    {
        // a real proxy socket on 127.0.0.1:0 that answers the first request with a 200 IMDS body
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var config = new AgentConfig { HttpProxyHost = "127.0.0.1", HttpProxyPort = port, ImdsUrl = new Uri("http://imds.example/") };
        using var clients = AgentClients.Create(config, NullLogger.Instance, TimeProvider.System, TimeSpan.FromSeconds(20));

        var call = clients.Imds.GetInstanceAsync(TestContext.Current.CancellationToken);
        using var connection = await listener.AcceptTcpClientAsync(TestContext.Current.CancellationToken);
        var stream = connection.GetStream();
        var buffer = new byte[8192];
        var read = await stream.ReadAsync(buffer, TestContext.Current.CancellationToken);
        var requestLine = Encoding.ASCII.GetString(buffer, 0, read).Split("\r\n")[0];
        var body = Encoding.UTF8.GetBytes(AgentRun.ImdsJson);
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n").Concat(body).ToArray(), TestContext.Current.CancellationToken);

        var instance = await call;
        Assert.StartsWith("GET http://imds.example/metadata/instance?api-version=", requestLine, StringComparison.Ordinal);
        Assert.Equal("vm1", instance.Compute.Name);
    }
}
