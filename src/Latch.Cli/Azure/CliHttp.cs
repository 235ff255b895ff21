using Latch.Azure;
using Latch.Azure.Http;

namespace Latch.Cli.Azure;

/// <summary>
/// The one HTTP handler every client of a latch run shares: sockets, no proxy unless HTTPS_PROXY says so, the
/// emulator's CA as the only root when one is given, and with --verbose one stderr line per request with its timing.
/// </summary>
internal static class CliHttp
{
    public static HttpMessageHandler Create(string? caCertificatePath, TextWriter? verbose, TimeProvider time)
    {
        SocketsHttpHandler sockets;
        if (caCertificatePath is not null)
        {
            // the emulator: its CA is the only root, so the system store need not be loaded (see the method)
            Interop.Native.UseCertificateFileAsSystemStore(caCertificatePath);
        }

        try
        {
            // HttpHandlerFactory: the same private-CA trust (custom root, host name checked) as every Latch.Azure client
            sockets = HttpHandlerFactory.Create(new ArmClientOptions
            {
                PerCallTimeout = TimeSpan.FromSeconds(20),
                CaCertificatePath = caCertificatePath,
                Proxy = HttpClient.DefaultProxy, // HTTPS_PROXY / NO_PROXY from the environment, as az does
            });
        }
        catch (ArgumentException e)
        {
            throw new CliException(ExitCodes.Config, $"{e.Message}; check the emulator is running and --emulator points at it.", e);
        }

        // connections to the many VMs' shared endpoints are reused; allow enough for bounded parallel syncs
        sockets.MaxConnectionsPerServer = 64;
        HttpMessageHandler handler = new PreferHttp2Handler(sockets);
        return verbose is null ? handler : new TimingHandler(handler, verbose, time);
    }

    /// <summary>
    /// Asks for HTTP/2 (falling back to 1.1 by ALPN), so requests a command sends at the same time to one endpoint — the
    /// VM and its NIC from ARM — share one connection and one TLS handshake instead of opening a second.
    /// </summary>
    private sealed class PreferHttp2Handler(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.RequestUri?.Scheme == Uri.UriSchemeHttps && request.Version < System.Net.HttpVersion.Version20)
            {
                request.Version = System.Net.HttpVersion.Version20;
                request.VersionPolicy = HttpVersionPolicy.RequestVersionOrLower;
            }

            return base.SendAsync(request, cancellationToken);
        }
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
