using System.Runtime.CompilerServices;
using System.Text.Json;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Security.KeyVault.Secrets;
using Latch.Azure.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SdkAccessToken = Azure.Core.AccessToken;
using SdkRetryOptions = Azure.Core.RetryOptions;
using SdkSecret = Azure.Security.KeyVault.Secrets.KeyVaultSecret;

namespace Latch.Azure;

/// <summary>
/// Key Vault secrets for latchd and the CLI: a thin wrapper over the Azure SDK's <see cref="SecretClient"/> (its
/// NativeAOT publish is warning-free) that adds Latch's deadlines, trust configuration, <see cref="Secret"/> values and
/// <see cref="AzureRequestException"/> errors. The SDK does the 401 bearer-challenge flow and honours Retry-After on 429.
/// </summary>
public sealed class KeyVaultSecretsClient : IDisposable
{
    /// <summary>Requests the SDK put on the wire during the current call (read by <see cref="CallAsync"/> for its errors).</summary>
    private static readonly AsyncLocal<StrongBox<int>?> s_requestsSent = new();

    private readonly SecretClient _client;
    private readonly HttpClient _http;
    private readonly TimeSpan _totalDeadline;
    private readonly Uri _vault;
    private readonly RetryPolicy _retry;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <param name="getToken">Returns a token for a resource such as <c>https://vault.azure.net</c> (e.g. <see cref="ManagedIdentityCredential.GetTokenAsync"/>).</param>
    public KeyVaultSecretsClient(KeyVaultSecretsClientOptions options, Func<string, CancellationToken, ValueTask<AccessToken>> getToken)
        : this(options, new DelegateTokenCredential(getToken))
    {
    }

    public KeyVaultSecretsClient(KeyVaultSecretsClientOptions options, TokenCredential credential)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(credential);
        options.Validate("Key Vault");
        _vault = options.BaseAddress;
        _totalDeadline = options.Retry.TotalDeadline;
        _time = options.TimeProvider;
        _retry = new RetryPolicy(options.Retry, _time);
        _logger = options.Logger ?? NullLogger.Instance;
        var handler = options.Handler ?? HttpHandlerFactory.Create(options);
        _http = new HttpClient(handler, disposeHandler: options.Handler is null) { Timeout = Timeout.InfiniteTimeSpan };
        var sdkOptions = new SecretClientOptions(SecretClientOptions.ServiceVersion.V7_5)
        {
            Transport = new HttpClientTransport(_http),
            DisableChallengeResourceVerification = !options.VerifyChallengeResource,
        };
        ConfigureRetry(sdkOptions.Retry, options);
        sdkOptions.AddPolicy(new CountingPolicy(), HttpPipelinePosition.BeforeTransport);
        sdkOptions.Diagnostics.ApplicationId = "Latch";
        sdkOptions.Diagnostics.IsLoggingContentEnabled = false;
        _client = new SecretClient(options.BaseAddress, credential, sdkOptions);
    }

    /// <summary>The secret's current (or given) version, or null when the vault has no such secret.</summary>
    public Task<KeyVaultSecret?> GetSecretAsync(string name, string? version = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return CallAsync($"get secret '{name}'", async ct =>
        {
            try
            {
                var response = await _client.GetSecretAsync(name, version, ct).ConfigureAwait(false);
                return (KeyVaultSecret?)ToSecret(response.Value);
            }
            catch (RequestFailedException e) when (e.Status == 404)
            {
                return null;
            }
        }, cancellationToken);
    }

    /// <summary>Every secret's metadata and tags (no values), following nextLink pages.</summary>
    public Task<IReadOnlyList<KeyVaultSecretProperties>> ListSecretPropertiesAsync(CancellationToken cancellationToken = default) =>
        CallAsync("list secrets", async ct =>
        {
            var all = new List<KeyVaultSecretProperties>();
            await foreach (var properties in _client.GetPropertiesOfSecretsAsync(ct).ConfigureAwait(false))
            {
                all.Add(ToProperties(properties));
            }

            return (IReadOnlyList<KeyVaultSecretProperties>)all;
        }, cancellationToken);

    /// <summary>Writes a new version of the secret.</summary>
    public Task<KeyVaultSecretProperties> SetSecretAsync(string name, Secret value, KeyVaultSetSecretOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(value);
        return CallAsync($"set secret '{name}'", async ct =>
        {
            var secret = new SdkSecret(name, value.Reveal());
            if (options is not null)
            {
                secret.Properties.ContentType = options.ContentType;
                secret.Properties.ExpiresOn = options.ExpiresOn;
                secret.Properties.NotBefore = options.NotBefore;
                secret.Properties.Enabled = options.Enabled;
                foreach (var (key, tag) in options.Tags ?? new Dictionary<string, string>())
                {
                    secret.Properties.Tags[key] = tag;
                }
            }

            var response = await _client.SetSecretAsync(secret, ct).ConfigureAwait(false);
            return ToProperties(response.Value.Properties);
        }, cancellationToken);
    }

    private async Task<T> CallAsync<T>(string operation, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        using var timer = new CancellationTokenSource(_totalDeadline, _time);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        var sent = new StrongBox<int>();
        s_requestsSent.Value = sent;
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    return await call(deadline.Token).ConfigureAwait(false);
                }
                catch (JsonException e) when (attempt < _retry.Options.MaxAttempts)
                {
                    // the SDK retries transport failures and transient statuses, not a 2xx body it cannot parse
                    var delay = _retry.BackoffAfter(attempt);
                    Log.Retrying(_logger, "Key Vault", operation, attempt, $"the response is not valid JSON ({FirstLine(e.Message)})", delay.TotalMilliseconds);
                    await Task.Delay(delay, _time, deadline.Token).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or AggregateException && deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            // the SDK reports a deadline that fell between its retries as an AggregateException of the attempts
            throw new AzureRequestException($"Key Vault {operation} at {_vault} did not finish within the {_totalDeadline.TotalSeconds:0.#} s deadline (RetryOptions.TotalDeadline) after {Sent(sent)} request(s).", null, null, sent.Value, e);
        }
        catch (JsonException e)
        {
            throw new AzureRequestException($"Key Vault {operation} at {_vault} failed after {Sent(sent)} request(s): the response is not valid JSON ({FirstLine(e.Message)}).", null, null, sent.Value, e);
        }
        catch (RequestFailedException e)
        {
            throw Describe(operation, e, sent.Value);
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            // the SDK's retry policy gave up; the last inner exception is the final attempt's
            var last = e.InnerExceptions[^1];
            var status = last is RequestFailedException rfe && rfe.Status != 0 ? rfe.Status : (int?)null;
            var tls = TlsFailure(last) is { } auth
                ? $" The TLS handshake failed ({FirstLine(auth.Message)}): if the vault uses a private CA (the emulator), set CaCertificatePath to its CA certificate."
                : "";
            var requests = Math.Max(sent.Value, e.InnerExceptions.Count);
            throw new AzureRequestException(
                $"Key Vault {operation} at {_vault} failed after {requests} request(s): {FirstLine(last.Message)}.{tls}",
                status, (last as RequestFailedException)?.ErrorCode, requests, e);
        }
        catch (HttpRequestException e)
        {
            throw new AzureRequestException($"Key Vault {operation} at {_vault} failed: {FirstLine(e.Message)}", null, null, sent.Value, e);
        }
    }

    private static string Sent(StrongBox<int> sent) => sent.Value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private AzureRequestException Describe(string operation, RequestFailedException e, int requests)
    {
        var inner = InnerErrorCode(e);
        var hint = (e.Status, inner) switch
        {
            (401, _) => " The token was refused: check the identity's tenant and that the token is for https://vault.azure.net.",
            // a disabled secret is forbidden to everyone: no role would help
            (403, "SecretDisabled") => " The secret is disabled in the vault: enable it (az keyvault secret set-attributes --enabled true) or stop using it.",
            (403, _) => " The identity lacks permission: grant it the 'Key Vault Secrets User' (read) or 'Key Vault Secrets Officer' (write) role, or an access policy with get/list/set.",
            (0, _) => " No response arrived: check that the vault is reachable from this machine.",
            _ => "",
        };
        var code = e.ErrorCode is null ? "" : " " + e.ErrorCode + (inner is null ? "" : "/" + inner);
        var after = requests > 1 ? $" after {requests} request(s)" : "";
        return new AzureRequestException(
            $"Key Vault {operation} at {_vault} failed{after}: HTTP {e.Status}{code}: {FirstLine(e.Message)}.{hint}",
            e.Status == 0 ? null : e.Status, e.ErrorCode, requests, e);
    }

    /// <summary>Key Vault's <c>error.innererror.code</c> (e.g. <c>SecretDisabled</c>, <c>ForbiddenByRbac</c>), when the response has one.</summary>
    private static string? InnerErrorCode(RequestFailedException e)
    {
        if (e.GetRawResponse()?.Content is not { } content)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(content.ToMemory());
            return document.RootElement.TryGetProperty("error", out var error)
                && error.ValueKind == JsonValueKind.Object
                && error.TryGetProperty("innererror", out var innerError)
                && innerError.ValueKind == JsonValueKind.Object
                && innerError.TryGetProperty("code", out var code)
                && code.ValueKind == JsonValueKind.String
                    ? code.GetString()
                    : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static System.Security.Authentication.AuthenticationException? TlsFailure(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is System.Security.Authentication.AuthenticationException auth)
            {
                return auth;
            }
        }

        return null;
    }

    // RequestFailedException appends headers and content after the first line; the service's message is enough
    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim().TrimEnd('.');

    private static void ConfigureRetry(SdkRetryOptions retry, KeyVaultSecretsClientOptions options)
    {
        retry.Mode = RetryMode.Exponential;
        retry.MaxRetries = options.Retry.MaxAttempts - 1;
        retry.Delay = options.Retry.InitialDelay;
        retry.MaxDelay = options.Retry.MaxDelay;
        retry.NetworkTimeout = options.PerCallTimeout;
    }

    private static KeyVaultSecret ToSecret(SdkSecret secret) => new(ToProperties(secret.Properties), new Secret(secret.Value ?? ""));

    private static KeyVaultSecretProperties ToProperties(SecretProperties p) => new(
        p.Name, p.Version, p.Enabled, p.NotBefore, p.ExpiresOn, p.CreatedOn, p.UpdatedOn, p.ContentType,
        new Dictionary<string, string>(p.Tags, StringComparer.Ordinal));

    public void Dispose() => _http.Dispose();

    /// <summary>Counts each request the SDK sends (retries and the bearer-challenge round included) for the current call.</summary>
    private sealed class CountingPolicy : HttpPipelineSynchronousPolicy
    {
        public override void OnSendingRequest(HttpMessage message)
        {
            if (s_requestsSent.Value is { } sent)
            {
                Interlocked.Increment(ref sent.Value);
            }
        }
    }

    /// <summary>Adapts Latch's token delegate to the SDK; the scope <c>https://vault.azure.net/.default</c> becomes the resource <c>https://vault.azure.net</c>.</summary>
    private sealed class DelegateTokenCredential(Func<string, CancellationToken, ValueTask<AccessToken>> getToken) : TokenCredential
    {
        public override SdkAccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            // the SDK calls the synchronous path only from synchronous client methods, which Latch never uses
            GetTokenAsync(requestContext, cancellationToken).AsTask().GetAwaiter().GetResult();

        public override async ValueTask<SdkAccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken)
        {
            var scope = requestContext.Scopes.FirstOrDefault() ?? throw new InvalidOperationException("Key Vault asked for a token without a scope.");
            var resource = scope.EndsWith("/.default", StringComparison.Ordinal) ? scope[..^"/.default".Length] : scope;
            var token = await getToken(resource, cancellationToken).ConfigureAwait(false);
            return new SdkAccessToken(token.Token.Reveal(), token.ExpiresOn);
        }
    }
}
