using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Latch.Core;
using Latch.Emulator.Control;
using Latch.Emulator.HostGaPlugin;
using Latch.Emulator.Imds;
using Latch.Emulator.Pipeline;
using Latch.Emulator.State;
using Latch.Emulator.WireServer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Latch.Emulator;

/// <summary>
/// A running emulator: one Kestrel app per endpoint group (IMDS + managed identity, WireServer, HostGAPlugin, Key Vault,
/// ARM, control), each with its own pipeline of request logging and fault injection, all in this process.
/// </summary>
public sealed partial class EmulatorHost : IAsyncDisposable
{
    private readonly List<WebApplication> _apps = [];
    private readonly ILoggerFactory _loggerFactory;
    private readonly string? _ownedStateDirectory;
    private bool _disposed;

    private EmulatorHost(EmulatorOptions options, EmulatorState state, ILoggerFactory loggerFactory, string? ownedStateDirectory)
    {
        Options = options;
        State = state;
        _loggerFactory = loggerFactory;
        _ownedStateDirectory = ownedStateDirectory;
    }

    public EmulatorOptions Options { get; }
    public EmulatorState State { get; }
    public Uri Imds { get; private set; } = null!;
    public Uri WireServer { get; private set; } = null!;
    public Uri HostGaPlugin { get; private set; } = null!;
    public Uri KeyVault { get; private set; } = null!;
    public Uri Arm { get; private set; } = null!;
    public Uri Control { get; private set; } = null!;

    /// <summary>The PEM file of the CA that signed the Key Vault and ARM server certificate (in the state directory).</summary>
    public string? CaCertificatePath { get; private set; }

    public static async Task<EmulatorHost> StartAsync(EmulatorOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        string? owned = null;
        var stateDirectory = options.StateDirectory;
        if (string.IsNullOrEmpty(stateDirectory))
        {
            stateDirectory = owned = Directory.CreateTempSubdirectory("latch-emulator-").FullName;
        }
        else
        {
            Directory.CreateDirectory(stateDirectory);
        }

        var loggerFactory = LoggerFactory.Create(logging =>
        {
            logging.SetMinimumLevel(LogLevel.Information);
            logging.AddFilter("Microsoft", LogLevel.Warning);
            logging.AddFilter("System", LogLevel.Warning);
            options.ConfigureLogging?.Invoke(logging);
        });
        var state = new EmulatorState(options.Scenario, options.Time, stateDirectory, options.RunCommandLatency, loggerFactory);
        var host = new EmulatorHost(options with { StateDirectory = stateDirectory }, state, loggerFactory, owned);
        try
        {
            await host.StartAppsAsync(cancellationToken).ConfigureAwait(false);
            return host;
        }
        catch
        {
            await host.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The endpoints as the control API and the command line report them.</summary>
    public EndpointsResponse Endpoints =>
        new(Imds.ToString(), WireServer.ToString(), HostGaPlugin.ToString(), KeyVault.ToString(), Arm.ToString(), Control.ToString(), CaCertificatePath, State.StateDirectory);

    private async Task StartAppsAsync(CancellationToken cancellationToken)
    {
        var tls = CreateTls();
        CaCertificatePath = tls.CaCertificatePath;

        var requestsLogger = _loggerFactory.CreateLogger("Latch.Emulator");

        var imds = CreateApp("imds", Options.ImdsEndpoint, null, context =>
            context.Request.Path.StartsWithSegments("/metadata/identity", StringComparison.OrdinalIgnoreCase) ? "identity" : "imds");
        imds.MapImds(State);
        MapIdentity(imds);
        Imds = await StartAsync(imds, "imds", cancellationToken).ConfigureAwait(false);

        var wire = CreateApp("wireserver", Options.WireServerEndpoint, null, _ => "wireserver");
        wire.MapWireServer(State, requestsLogger);
        WireServer = await StartAsync(wire, "wireserver", cancellationToken).ConfigureAwait(false);

        var hostGaPlugin = CreateApp("hostgaplugin", Options.HostGaPluginEndpoint, null, _ => "hostgaplugin");
        hostGaPlugin.MapHostGaPlugin(State, () => WireServer.Port, requestsLogger);
        HostGaPlugin = await StartAsync(hostGaPlugin, "hostgaplugin", cancellationToken).ConfigureAwait(false);

        var keyVault = CreateApp("keyvault", Options.KeyVaultEndpoint, tls.ServerCertificate, _ => "keyvault");
        MapKeyVault(keyVault);
        KeyVault = await StartAsync(keyVault, "keyvault", cancellationToken).ConfigureAwait(false);

        var arm = CreateApp("arm", Options.ArmEndpoint, tls.ServerCertificate, _ => "arm");
        MapArm(arm);
        Arm = await StartAsync(arm, "arm", cancellationToken).ConfigureAwait(false);

        var control = CreateApp("control", Options.ControlEndpoint, null, _ => "control");
        control.MapControl(State, () => Endpoints, requestsLogger);
        Control = await StartAsync(control, "control", cancellationToken).ConfigureAwait(false);
    }

    private WebApplication CreateApp(string group, string? endpoint, X509Certificate2? certificate, Func<HttpContext, string> groupOf)
    {
        var listen = ParseEndpoint(group, endpoint);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ApplicationName = "latch-emulator-" + group,
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = Environments.Production,
            Args = [],
        });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(_loggerFactory);
        builder.Services.AddSingleton<IHostLifetime, QuietLifetime>();
        builder.Services.AddSingleton(State);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = 4 * 1024 * 1024;
            kestrel.Listen(listen, listenOptions =>
            {
                if (certificate is not null)
                {
                    listenOptions.UseHttps(certificate);
                }
            });
        });

        var app = builder.Build();
        app.UseEmulatorPipeline(State, groupOf);
        _apps.Add(app);
        return app;
    }

    private async Task<Uri> StartAsync(WebApplication app, string group, CancellationToken cancellationToken)
    {
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e) when (e.InnerException is SocketException || e is IOException)
        {
            throw new LatchException($"the {group} endpoint cannot listen: {e.Message}. Pick another --{group} ADDRESS:PORT (port 0 takes a free one); addresses such as 169.254.169.254 must be assigned to an interface first (ip addr add 169.254.169.254/32 dev lo).", e);
        }

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? throw new InvalidOperationException($"the {group} endpoint started without an address");
        var uri = new Uri(address);
        Log.Listening(_loggerFactory.CreateLogger("Latch.Emulator"), group, uri.ToString());
        return uri;
    }

    internal static IPEndPoint ParseEndpoint(string group, string? endpoint)
    {
        if (string.IsNullOrWhiteSpace(endpoint))
        {
            return new IPEndPoint(IPAddress.Loopback, 0);
        }

        var colon = endpoint.LastIndexOf(':');
        var host = colon > 0 ? endpoint[..colon].Trim('[', ']') : "";
        if (colon <= 0 || !int.TryParse(endpoint[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            throw new LatchException($"the {group} endpoint '{endpoint}' is not ADDRESS:PORT (e.g. 127.0.0.1:0 or 169.254.169.254:80).");
        }

        if (host == "localhost")
        {
            return new IPEndPoint(IPAddress.Loopback, port);
        }

        return IPAddress.TryParse(host, out var address)
            ? new IPEndPoint(address, port)
            : throw new LatchException($"the {group} endpoint '{endpoint}' needs an IP address (or localhost), not '{host}'.");
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await State.HostileAgents.DisposeAsync().ConfigureAwait(false);
        foreach (var app in _apps)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await app.StopAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or InvalidOperationException)
            {
                // never started (a sibling failed to bind) or slow to drain: disposing below still closes it
            }

            await app.DisposeAsync().ConfigureAwait(false);
        }

        await DisposePartnersAsync().ConfigureAwait(false);
        _loggerFactory.Dispose();
        if (_ownedStateDirectory is not null)
        {
            try
            {
                Directory.Delete(_ownedStateDirectory, recursive: true);
            }
            catch (IOException)
            {
                // best effort: a temporary directory
            }
        }
    }

    /// <summary>The apps must not install their own SIGTERM/SIGINT handling: the command line owns the signals.</summary>
    private sealed class QuietLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
