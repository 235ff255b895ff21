using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Latch.Emulator.Tests;

/// <summary>
/// A real HTTPS server on 127.0.0.1:0 with the emulator's certificates and whatever endpoints a test maps.
/// Clients trust it through the CA file the emulator wrote, never by turning validation off.
/// </summary>
internal sealed class TestServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _stateDirectory;

    private TestServer(WebApplication app, EmulatorCertificates certificates, string stateDirectory, int port)
    {
        _app = app;
        Certificates = certificates;
        _stateDirectory = stateDirectory;
        Port = port;
    }

    public EmulatorCertificates Certificates { get; }

    public int Port { get; }

    public bool Tls { get; private init; } = true;

    public Uri BaseUri => new($"{(Tls ? "https" : "http")}://127.0.0.1:{Port}/");

    /// <summary>The server as reached through a host name (resolved to 127.0.0.1 by the test handler), e.g. a vault's.</summary>
    public Uri UriFor(string host) => new($"{(Tls ? "https" : "http")}://{host}:{Port}/");

    public static async Task<TestServer> StartAsync(Action<WebApplication> map, TimeProvider? time = null, bool tls = true)
    {
        var stateDirectory = Directory.CreateTempSubdirectory("latch-emulator-test-").FullName;
        var certificates = EmulatorCertificates.Create(stateDirectory, ["127.0.0.1"], time ?? TimeProvider.System);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            if (tls)
            {
                listen.UseHttps(certificates.ServerCertificate);
            }
        }));
        var app = builder.Build();
        map(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new TestServer(app, certificates, stateDirectory, new Uri(address).Port) { Tls = tls };
    }

    /// <summary>
    /// A handler that trusts only the emulator's CA (read from ca.pem) and connects every host name to this server,
    /// so vault host names like latch-demo-kv.vault.localhost work without DNS.
    /// </summary>
    public SocketsHttpHandler CreateHandler()
    {
        var authority = X509Certificate2.CreateFromPem(File.ReadAllText(Certificates.CaCertificatePath));
        var port = Port;
        return new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                CertificateChainPolicy = new X509ChainPolicy
                {
                    TrustMode = X509ChainTrustMode.CustomRootTrust,
                    CustomTrustStore = { authority },
                    RevocationMode = X509RevocationMode.NoCheck,
                },
            },
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
    }

    public HttpClient CreateHttpClient(string? host = null) => new(CreateHandler()) { BaseAddress = host is null ? BaseUri : UriFor(host) };

    public HttpPipelineTransport CreateTransport() => new HttpClientTransport(CreateHandler());

    /// <summary>Azure.Identity's own ClientSecretCredential, with this server as its Entra authority.</summary>
    public ClientSecretCredential CreateCredential(string tenantId, string clientId, string clientSecret) => new(tenantId, clientId, clientSecret, new ClientSecretCredentialOptions
    {
        AuthorityHost = BaseUri,
        DisableInstanceDiscovery = true,
        Transport = CreateTransport(),
        Retry = { MaxRetries = 0 },
    });

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Certificates.Dispose();
        Directory.Delete(_stateDirectory, recursive: true);
    }
}

/// <summary>A credential that hands out tokens minted directly by the emulator's issuer (for tests about the service, not sign-in).</summary>
internal sealed class IssuerCredential(TokenIssuer tokens, string principalId) : TokenCredential
{
    public int Calls { get; private set; }

    public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken)
    {
        Calls++;
        var resource = requestContext.Scopes.Single()[..^"/.default".Length];
        return new AccessToken(tokens.Issue(principalId, resource, TimeSpan.FromHours(1)), tokens.Time.GetUtcNow().AddHours(1));
    }

    public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
        ValueTask.FromResult(GetToken(requestContext, cancellationToken));
}
