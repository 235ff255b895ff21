using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Latch.Cli.Azure;

/// <summary>
/// The one HTTP handler every client of a latch run shares: sockets, no proxy unless HTTPS_PROXY says so, the
/// emulator's CA as the only root when one is given, and with --verbose one stderr line per request with its timing.
/// </summary>
internal static class CliHttp
{
    public static HttpMessageHandler Create(string? caCertificatePath, TextWriter? verbose, TimeProvider time)
    {
        var sockets = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            ConnectTimeout = TimeSpan.FromSeconds(20),
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            // connections to the many VMs' shared endpoints are reused; allow enough for bounded parallel syncs
            MaxConnectionsPerServer = 64,
        };
        if (caCertificatePath is not null)
        {
            var ca = LoadCertificate(caCertificatePath);
            sockets.SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, errors) => ChainsTo(ca, certificate, errors),
            };
        }

        return verbose is null ? sockets : new TimingHandler(sockets, verbose, time);
    }

    private static X509Certificate2 LoadCertificate(string path)
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
            throw new CliException(ExitCodes.Config, $"the CA certificate '{path}' could not be read ({e.Message}); check the emulator is running and --emulator points at it.", e);
        }
    }

    private static bool ChainsTo(X509Certificate2 ca, X509Certificate? certificate, SslPolicyErrors errors)
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

    /// <summary>Writes "http GET host/path -> 200 in 12.3 ms" (no query string: it may carry nothing secret, but stays short).</summary>
    private sealed class TimingHandler(HttpMessageHandler inner, TextWriter output, TimeProvider time) : DelegatingHandler(inner)
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var started = time.GetTimestamp();
            var target = request.RequestUri is { } uri ? $"{uri.Host}:{uri.Port}{uri.AbsolutePath}" : "?";
            try
            {
                var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
                Write($"http {request.Method} {target} -> {(int)response.StatusCode} in {time.GetElapsedTime(started).TotalMilliseconds:0.0} ms");
                return response;
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
            {
                Write($"http {request.Method} {target} -> failed after {time.GetElapsedTime(started).TotalMilliseconds:0.0} ms: {e.GetType().Name}");
                throw;
            }
        }

        private void Write(string line)
        {
            lock (output)
            {
                output.WriteLine(line);
            }
        }
    }

}
