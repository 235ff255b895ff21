using System.Net;
using Microsoft.Extensions.Logging;

namespace Latch.Azure;

/// <summary>
/// Settings shared by every Latch Azure client. A client copies them when it is built, so later changes to the
/// options object (they are init-only) cannot reach a client that is in use.
/// </summary>
public abstract class AzureClientOptions
{
    protected AzureClientOptions(Uri baseAddress, TimeSpan perCallTimeout, RetryOptions retry)
    {
        BaseAddress = baseAddress;
        PerCallTimeout = perCallTimeout;
        Retry = retry;
    }

    /// <summary>Where the service listens (the real Azure address by default; the emulator's in tests).</summary>
    public Uri BaseAddress { get; init; }

    /// <summary>Deadline for one request: connect, send, and read the whole response.</summary>
    public TimeSpan PerCallTimeout { get; init; }

    public RetryOptions Retry { get; init; }

    /// <summary>Replaces the default socket handler (the caller keeps ownership of it).</summary>
    public HttpMessageHandler? Handler { get; init; }

    /// <summary>Proxy for the default handler. Null means no proxy at all (IMDS and WireServer refuse proxied requests).</summary>
    public IWebProxy? Proxy { get; init; }

    /// <summary>PEM or DER CA certificate that the server's TLS chain must lead to, in place of the system roots.</summary>
    public string? CaCertificatePath { get; init; }

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    public ILogger? Logger { get; init; }

    public string UserAgent { get; init; } = "Latch/0.1";

    /// <summary>Larger responses are refused rather than buffered.</summary>
    public int MaxResponseBytes { get; init; } = 8 * 1024 * 1024;

    internal void Validate(string client)
    {
        ArgumentNullException.ThrowIfNull(BaseAddress, nameof(BaseAddress));
        if (!BaseAddress.IsAbsoluteUri)
        {
            throw new ArgumentException($"{client}: BaseAddress must be absolute, got '{BaseAddress}'.", nameof(BaseAddress));
        }

        if (PerCallTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(PerCallTimeout), PerCallTimeout, $"{client}: PerCallTimeout must be positive.");
        }

        ArgumentNullException.ThrowIfNull(Retry, nameof(Retry));
        Retry.Validate(client);
        ArgumentNullException.ThrowIfNull(TimeProvider, nameof(TimeProvider));
    }
}
