using System.Net;
using System.Text.RegularExpressions;
using Latch.Agent.Config;
using Latch.Azure;
using Microsoft.Extensions.Logging;

namespace Latch.Agent.Provisioning;

/// <summary>The IMDS and WireServer clients latchd uses, built from its settings.</summary>
internal sealed class AgentClients : IDisposable
{
    private AgentClients(ImdsClient imds, WireServerClient wireServer)
    {
        Imds = imds;
        WireServer = wireServer;
    }

    public ImdsClient Imds { get; }

    public WireServerClient WireServer { get; }

    /// <param name="imdsDeadline">How long one IMDS call may retry (a dry run waits less than provisioning).</param>
    public static AgentClients Create(AgentConfig config, ILogger logger, TimeProvider time, TimeSpan? imdsDeadline = null)
    {
        var proxy = CreateProxy(config);
        var imdsDefaults = new ImdsClientOptions();
        var imds = new ImdsClient(new ImdsClientOptions
        {
            BaseAddress = config.ImdsUrl ?? ImdsClientOptions.DefaultAddress,
            Proxy = proxy,
            Logger = logger,
            TimeProvider = time,
            UserAgent = "latchd/0.1",
            Retry = imdsDeadline is { } d ? imdsDefaults.Retry with { TotalDeadline = d } : imdsDefaults.Retry,
        });
        var wireDefaults = new WireServerClientOptions();
        var wireServer = new WireServerClient(new WireServerClientOptions
        {
            BaseAddress = config.WireServerUrl ?? WireServerClientOptions.DefaultAddress,
            Proxy = proxy,
            Logger = logger,
            TimeProvider = time,
            AgentName = "latchd",
            UserAgent = "latchd/0.1",
            Retry = wireDefaults.Retry with { TotalDeadline = TimeSpan.FromSeconds(config.ReportDeadlineSeconds) },
        });
        return new AgentClients(imds, wireServer);
    }

    /// <summary>
    /// HttpProxy.Host/Port as waagent uses them: every request goes through the proxy except those to the WireServer
    /// and IMDS addresses, which answer only direct requests from the VM itself.
    /// </summary>
    internal static WebProxy? CreateProxy(AgentConfig config)
    {
        if (config.HttpProxyHost is not { Length: > 0 } host)
        {
            return null;
        }

        return new WebProxy(new UriBuilder("http", host, config.HttpProxyPort ?? 3128).Uri)
        {
            BypassProxyOnLocal = false,
            BypassList = [Regex.Escape(WireServerClientOptions.DefaultAddress.Host), Regex.Escape(ImdsClientOptions.DefaultAddress.Host)],
        };
    }

    public void Dispose()
    {
        Imds.Dispose();
        WireServer.Dispose();
    }
}
