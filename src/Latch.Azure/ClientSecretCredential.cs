using Latch.Azure.Http;

namespace Latch.Azure;

/// <summary>
/// Tokens for an app registration (service principal) by the OAuth 2.0 client-credentials grant at the Microsoft
/// Entra v2 token endpoint (<c>POST /{tenant}/oauth2/v2.0/token</c>): what an operator's CLI uses outside a VM.
/// A small, NativeAOT-clean stand-in for Azure.Identity's credential of the same name. Caches each resource's token
/// until five minutes before it expires. Thread-safe.
/// </summary>
public sealed class ClientSecretCredential : IDisposable
{
    private readonly AzurePipeline _pipeline;
    private readonly TokenCache _cache;
    private readonly TimeProvider _time;
    private readonly string _tenantId;
    private readonly string _clientId;
    private readonly Secret _clientSecret;

    public ClientSecretCredential(string tenantId, string clientId, Secret clientSecret, EntraClientOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(tenantId);
        ArgumentException.ThrowIfNullOrEmpty(clientId);
        ArgumentNullException.ThrowIfNull(clientSecret);
        options ??= new EntraClientOptions();
        _tenantId = tenantId;
        _clientId = clientId;
        _clientSecret = clientSecret;
        _time = options.TimeProvider;
        _cache = new TokenCache(_time);
        _pipeline = new AzurePipeline("Entra", options, RetryPolicy.IsTransient);
    }

    /// <summary>A token for <paramref name="resource"/> (e.g. <see cref="ArmClient.Resource"/> or <c>https://vault.azure.net</c>).</summary>
    public async ValueTask<AccessToken> GetTokenAsync(string resource, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(resource);
        var (token, fetched) = await _cache.GetAsync(resource, FetchAsync, cancellationToken).ConfigureAwait(false);
        if (fetched)
        {
            Log.TokenFetched(_pipeline.Logger, "Entra client credentials", resource, token.ExpiresOn);
        }

        return token;
    }

    /// <summary>The client-credentials scope for a resource: its URI with <c>/.default</c> (one slash between them).</summary>
    internal static string ScopeFor(string resource) => resource.EndsWith('/') ? resource + ".default" : resource + "/.default";

    private Task<AccessToken> FetchAsync(string resource, CancellationToken cancellationToken)
    {
        var path = $"/{Uri.EscapeDataString(_tenantId)}/oauth2/v2.0/token";
        var operation = "POST " + path;
        return _pipeline.SendAsync(
            operation,
            _ => ValueTask.FromResult(new HttpRequestMessage(HttpMethod.Post, path)
            {
                Content = new FormUrlEncodedContent(
                [
                    new("grant_type", "client_credentials"),
                    new("client_id", _clientId),
                    new("client_secret", _clientSecret.Reveal()),
                    new("scope", ScopeFor(resource)),
                ]),
            }),
            response => response.IsSuccess ? ParseOrRetry(response.Body) : _pipeline.Classify<AccessToken>(response, operation, ManagedIdentityCredential.DescribeError),
            cancellationToken);
    }

    private Attempt<AccessToken> ParseOrRetry(byte[] body)
    {
        try
        {
            return Attempt<AccessToken>.Success(ManagedIdentityCredential.ParseToken(body, _time.GetUtcNow(), "Entra"));
        }
        catch (AzureFormatException e)
        {
            return Attempt<AccessToken>.Retry(e.Message);
        }
    }

    public void Dispose()
    {
        _pipeline.Dispose();
        _cache.Dispose();
    }
}

/// <summary>Settings for <see cref="ClientSecretCredential"/>; <see cref="AzureClientOptions.BaseAddress"/> is the authority host.</summary>
public sealed class EntraClientOptions : AzureClientOptions
{
    /// <summary>The public cloud's authority host.</summary>
    public static readonly Uri DefaultAddress = new("https://login.microsoftonline.com");

    public EntraClientOptions()
        : base(DefaultAddress, TimeSpan.FromSeconds(30), new RetryOptions { InitialDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(10), MaxAttempts = 4, TotalDeadline = TimeSpan.FromMinutes(1) })
    {
    }
}
