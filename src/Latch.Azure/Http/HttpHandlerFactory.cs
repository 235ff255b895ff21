using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Latch.Azure.Http;

/// <summary>Builds the socket handler behind every client: explicit proxy choice, no redirects, optional private CA.</summary>
internal static class HttpHandlerFactory
{
    public static SocketsHttpHandler Create(AzureClientOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = options.Proxy is not null,
            Proxy = options.Proxy,
            AllowAutoRedirect = false,
            UseCookies = false,
            ConnectTimeout = options.PerCallTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        };
        if (options.CaCertificatePath is { } caPath)
        {
            var ca = LoadCertificate(caPath);
            handler.SslOptions = new SslClientAuthenticationOptions
            {
                // the handshake's own chain build uses the private CA as its only root (.NET still loads the system store for
                // its intermediates; latch points that at the CA file: Latch.Cli Native.UseCertificateFileAsSystemStore)
                // and no second chain build in the callback (tens of ms on a process's first connection)
                CertificateChainPolicy = new X509ChainPolicy
                {
                    TrustMode = X509ChainTrustMode.CustomRootTrust,
                    CustomTrustStore = { ca },
                    RevocationMode = X509RevocationMode.NoCheck,
                },
                RemoteCertificateValidationCallback = (_, certificate, _, errors) => ChainsTo(ca, certificate, errors),
            };
        }

        return handler;
    }

    internal static X509Certificate2 LoadCertificate(string path)
    {
        try
        {
            var bytes = File.ReadAllBytes(path);
            return bytes.AsSpan().IndexOf("-----BEGIN"u8) >= 0
                ? X509Certificate2.CreateFromPem(System.Text.Encoding.ASCII.GetString(bytes))
                : X509CertificateLoader.LoadCertificate(bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            throw new ArgumentException($"CA certificate '{path}' could not be read as a PEM or DER certificate: {e.Message}", nameof(path), e);
        }
    }

    /// <summary>
    /// Trusts the server when its chain ends at <paramref name="ca"/> (and the host name matches): custom root trust,
    /// never "accept anything".
    /// </summary>
    internal static bool ChainsTo(X509Certificate2 ca, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
        {
            return false;
        }

        if (errors == SslPolicyErrors.None)
        {
            return true;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }
}
