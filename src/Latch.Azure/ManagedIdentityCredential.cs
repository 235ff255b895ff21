using System.Text.Json;
using Latch.Azure.Http;
using Latch.Azure.Json;

namespace Latch.Azure;

/// <summary>
/// Managed-identity tokens from IMDS (<c>/metadata/identity/oauth2/token</c>). Caches each resource's token until
/// five minutes before it expires; concurrent callers for one resource share a single fetch. Thread-safe.
/// </summary>
public sealed class ManagedIdentityCredential : IDisposable
{
    private readonly AzurePipeline _pipeline;
    private readonly TimeProvider _time;
    private readonly string? _clientId;
    private readonly TokenCache _cache;

    public ManagedIdentityCredential(ImdsClientOptions? options = null, string? clientId = null)
    {
        options ??= new ImdsClientOptions();
        _time = options.TimeProvider;
        _clientId = clientId;
        _cache = new TokenCache(_time);
        _pipeline = new AzurePipeline("IMDS managed identity", options, ImdsClient.IsRetriable);
    }

    /// <summary>A token for <paramref name="resource"/> (e.g. <c>https://vault.azure.net</c>, <c>https://management.azure.com/</c>).</summary>
    public async ValueTask<AccessToken> GetTokenAsync(string resource, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(resource);
        var (token, fetched) = await _cache.GetAsync(resource, FetchAsync, cancellationToken).ConfigureAwait(false);
        if (fetched)
        {
            Log.TokenFetched(_pipeline.Logger, "Managed identity", resource, token.ExpiresOn);
        }

        return token;
    }

    private Task<AccessToken> FetchAsync(string resource, CancellationToken cancellationToken)
    {
        var query = $"/metadata/identity/oauth2/token?api-version=2018-02-01&resource={Uri.EscapeDataString(resource)}";
        if (_clientId is not null)
        {
            query += "&client_id=" + Uri.EscapeDataString(_clientId);
        }

        const string operation = "GET /metadata/identity/oauth2/token";
        return _pipeline.SendAsync(
            operation,
            _ => ValueTask.FromResult(ImdsClient.CreateRequest(query)),
            response => response.IsSuccess ? ParseOrRetry(response.Body) : _pipeline.Classify<AccessToken>(response, operation, DescribeError),
            cancellationToken);
    }

    private Attempt<AccessToken> ParseOrRetry(byte[] body)
    {
        try
        {
            return Attempt<AccessToken>.Success(ParseToken(body, _time.GetUtcNow()));
        }
        catch (AzureFormatException e)
        {
            return Attempt<AccessToken>.Retry(e.Message);
        }
    }

    internal static AccessToken ParseToken(ReadOnlySpan<byte> json, DateTimeOffset now, string source = "managed identity")
    {
        ManagedIdentityTokenWire? wire;
        try
        {
            wire = JsonSerializer.Deserialize(json, AzureJsonContext.Default.ManagedIdentityTokenWire);
        }
        catch (JsonException e)
        {
            // the message names the position, never the token text
            throw new AzureFormatException($"{source} token response is not valid JSON (at byte {e.BytePositionInLine}, line {e.LineNumber}).", e);
        }

        if (string.IsNullOrEmpty(wire?.AccessToken))
        {
            throw new AzureFormatException($"{source} token response has no 'access_token'.");
        }

        var expiresOn = wire.ExpiresOn is { } unix
            ? DateTimeOffset.FromUnixTimeSeconds(unix)
            : wire.ExpiresIn is { } seconds
                ? now.AddSeconds(seconds)
                : throw new AzureFormatException($"{source} token response has neither 'expires_on' nor 'expires_in'.");
        return new AccessToken(new Secret(wire.AccessToken), expiresOn);
    }

    internal static (string?, string?) DescribeError(AzureResponse response)
    {
        try
        {
            var error = JsonSerializer.Deserialize(response.Body, AzureJsonContext.Default.ManagedIdentityErrorWire);
            return (error?.Error, error?.ErrorDescription);
        }
        catch (JsonException)
        {
            return (null, null);
        }
    }

    public void Dispose()
    {
        _pipeline.Dispose();
        _cache.Dispose();
    }
}
