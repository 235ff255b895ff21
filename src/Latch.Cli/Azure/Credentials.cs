using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Latch.Azure;

namespace Latch.Cli.Azure;

/// <summary>
/// Where latch gets Azure tokens. A documented subset of Azure.Identity's chain, all NativeAOT-clean:
/// client secret from the environment (AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET, also against the
/// emulator's Entra endpoint), the Azure CLI's login (<c>az account get-access-token</c>), and managed identity (IMDS).
/// Tokens are cached in memory per resource, and across runs in <see cref="SessionCache"/> when the source names a
/// cache identity (a sign-in through the Azure CLI is a Python process: about a second saved per run).
/// </summary>
internal abstract class TokenSource
{
    private readonly ConcurrentDictionary<string, Lazy<Task<AccessToken>>> _cache = new(StringComparer.Ordinal);

    public abstract string Name { get; }

    /// <summary>The disk cache, or null to sign in afresh in every run.</summary>
    public SessionCache? Disk { get; init; }

    /// <summary>Who the tokens belong to (never a secret), or null when they must not be kept on disk.</summary>
    protected abstract string? CacheIdentity { get; }

    /// <summary>The cache identity, for facts learned with these tokens (the only subscription they see).</summary>
    public string? Identity => CacheIdentity;

    public async ValueTask<AccessToken> GetTokenAsync(string resource, CancellationToken cancellationToken = default)
    {
        var lazy = _cache.GetOrAdd(resource, r => new Lazy<Task<AccessToken>>(() => FetchCachedAsync(r, CancellationToken.None)));
        try
        {
            var token = await lazy.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (token.ExpiresOn > DateTimeOffset.UtcNow.AddMinutes(2))
            {
                return token;
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _cache.TryRemove(resource, out _);
            throw;
        }

        _cache.TryRemove(resource, out _);
        return await FetchCachedAsync(resource, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Forgets a token the service refused (revoked, or the identity lost its role), here and on disk.</summary>
    public void Forget(string resource)
    {
        _cache.TryRemove(resource, out _);
        if (Disk is { } disk && CacheIdentity is { } identity)
        {
            disk.RemoveToken(identity, resource);
        }
    }

    private async Task<AccessToken> FetchCachedAsync(string resource, CancellationToken cancellationToken)
    {
        var identity = CacheIdentity;
        if (Disk is { } disk && identity is not null && disk.TryGetToken(identity, resource) is { } cached)
        {
            return cached;
        }

        var token = await FetchAsync(resource, cancellationToken).ConfigureAwait(false);
        if (identity is not null)
        {
            Disk?.PutToken(identity, resource, token);
        }

        return token;
    }

    protected abstract Task<AccessToken> FetchAsync(string resource, CancellationToken cancellationToken);
}

/// <summary>OAuth2 client credentials at an Entra v2 token endpoint (Azure, or the emulator's on its ARM listener).</summary>
internal sealed class ClientSecretTokenSource(Uri authorityHost, string tenant, string clientId, string clientSecret, HttpMessageHandler handler) : TokenSource
{
    public override string Name => $"client secret (client {clientId})";

    protected override string? CacheIdentity => $"client-secret {authorityHost} {tenant} {clientId}";

    protected override async Task<AccessToken> FetchAsync(string resource, CancellationToken cancellationToken)
    {
        using var http = new HttpClient(handler, disposeHandler: false) { Timeout = TimeSpan.FromSeconds(30) };
        var scope = resource.TrimEnd('/') + "/.default";
        using var body = new FormUrlEncodedContent([
            new("grant_type", "client_credentials"),
            new("client_id", clientId),
            new("client_secret", clientSecret),
            new("scope", scope),
        ]);
        var url = new Uri(authorityHost, $"/{Uri.EscapeDataString(tenant)}/oauth2/v2.0/token");
        HttpResponseMessage response;
        try
        {
            response = await http.PostAsync(url, body, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new CliException(ExitCodes.Auth, $"cannot reach the sign-in endpoint {authorityHost}: {e.Message}", e);
        }

        using (response)
        {
            var json = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                var description = TryDescribe(json);
                throw new CliException(ExitCodes.Auth, $"sign-in as client {clientId} was refused (HTTP {(int)response.StatusCode}): {description}. Check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET.");
            }

            var token = JsonSerializer.Deserialize(json, CliJsonContext.Default.EntraTokenWire);
            if (token?.AccessToken is not { Length: > 0 } value)
            {
                throw new CliException(ExitCodes.Auth, $"the sign-in endpoint {authorityHost} answered without an access_token.");
            }

            return new AccessToken(new Secret(value), DateTimeOffset.UtcNow.AddSeconds(token.ExpiresIn is > 0 ? token.ExpiresIn.Value : 300));
        }
    }

    private static string TryDescribe(byte[] json)
    {
        try
        {
            var error = JsonSerializer.Deserialize(json, CliJsonContext.Default.EntraErrorWire);
            var text = error?.ErrorDescription ?? error?.Error ?? "no description";
            return text.Split('\n')[0].Trim();
        }
        catch (JsonException)
        {
            return "the answer was not JSON";
        }
    }
}

/// <summary>The Azure CLI's login: <c>az account get-access-token --resource R -o json</c> (the CLI refreshes its own tokens).</summary>
internal sealed class AzureCliTokenSource(string azPath, string? profileStamp) : TokenSource
{
    public override string Name => "Azure CLI login";

    /// <summary>Keyed by the Azure CLI profile's write time and size: 'az login' or 'az account set' changes them.</summary>
    protected override string? CacheIdentity => profileStamp is null ? null : "az " + profileStamp;

    protected override async Task<AccessToken> FetchAsync(string resource, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(azPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])["account", "get-access-token", "--resource", resource, "--output", "json"])
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new CliException(ExitCodes.Auth, $"could not start {azPath}");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            var why = (await stderr.ConfigureAwait(false)).Split('\n').FirstOrDefault(l => l.Trim().Length > 0)?.Trim() ?? "no message";
            throw new CliException(ExitCodes.Auth, $"the Azure CLI gave no token (exit {process.ExitCode}): {why}. Run 'az login', or set AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET.");
        }

        var token = JsonSerializer.Deserialize(await stdout.ConfigureAwait(false), CliJsonContext.Default.AzCliTokenWire);
        if (token?.AccessToken is not { Length: > 0 } value)
        {
            throw new CliException(ExitCodes.Auth, "the Azure CLI answered without an accessToken; run 'az login' again.");
        }

        var expires = token.ExpiresOnUnix is { } unix ? DateTimeOffset.FromUnixTimeSeconds(unix) : DateTimeOffset.UtcNow.AddMinutes(5);
        return new AccessToken(new Secret(value), expires);
    }
}

/// <summary>The managed identity of the machine latch runs on (IMDS).</summary>
internal sealed class ManagedIdentityTokenSource(ManagedIdentityCredential credential) : TokenSource
{
    public override string Name => "managed identity";

    // IMDS is on the machine itself: nothing to save by keeping its tokens on disk
    protected override string? CacheIdentity => null;

    protected override async Task<AccessToken> FetchAsync(string resource, CancellationToken cancellationToken)
    {
        try
        {
            return await credential.GetTokenAsync(resource, cancellationToken).ConfigureAwait(false);
        }
        catch (AzureRequestException e)
        {
            throw new CliException(ExitCodes.Auth, $"no managed identity token ({e.Message}). Outside an Azure VM, run 'az login' or set AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET.", e);
        }
    }
}
