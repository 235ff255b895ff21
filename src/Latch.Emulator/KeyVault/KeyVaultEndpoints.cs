using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Latch.Emulator;

/// <summary>
/// Key Vault's secrets data plane (api-version 7.x). Which vault a request is for comes from the Host header:
/// its first label when that names a vault (https://latch-demo-kv.vault.localhost:8443/secrets/x), otherwise
/// the scenario's only vault; with several vaults and no matching host the answer is 404 VaultNotFound.
/// Every request needs a bearer token for https://vault.azure.net from the emulator's token issuer whose oid is
/// in the vault's AllowedPrincipals (all secret permissions; the emulator has no per-permission policies).
/// </summary>
internal static partial class KeyVaultEndpoints
{
    public const string Resource = "https://vault.azure.net";
    public const string ServiceVersion = "1.9.2692.1";
    private const int MaxPageSize = 25;
    private const string VaultItemKey = "latch.keyvault.vault";

    public static IEndpointRouteBuilder MapKeyVault(this IEndpointRouteBuilder app, KeyVaultStore store, TokenIssuer tokens)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(tokens);
        var secrets = app.MapGroup("");
        secrets.AddEndpointFilter((context, next) => AuthorizeAsync(context, next, store, tokens));

        secrets.MapPut("/secrets/{name}", (HttpContext c, string name) => SetAsync(c, store, name)).WithMetadata(new SecretPermission("set"));
        secrets.MapGet("/secrets", (HttpContext c) => List(c, store)).WithMetadata(new SecretPermission("list"));
        secrets.MapGet("/secrets/{name}/versions", (HttpContext c, string name) => ListVersions(c, store, name)).WithMetadata(new SecretPermission("list"));
        secrets.MapGet("/secrets/{name}/{version?}", (HttpContext c, string name, string? version) => Get(c, store, name, version)).WithMetadata(new SecretPermission("get"));
        secrets.MapMethods("/secrets/{name}/{version?}", ["PATCH"], (HttpContext c, string name, string? version) => UpdateAsync(c, store, name, version)).WithMetadata(new SecretPermission("set"));
        secrets.MapDelete("/secrets/{name}", (HttpContext c, string name) => Delete(c, store, name)).WithMetadata(new SecretPermission("delete"));
        secrets.MapGet("/deletedsecrets", (HttpContext c) => ListDeleted(c, store)).WithMetadata(new SecretPermission("list"));
        secrets.MapGet("/deletedsecrets/{name}", (HttpContext c, string name) => GetDeleted(c, store, name)).WithMetadata(new SecretPermission("get"));
        secrets.MapDelete("/deletedsecrets/{name}", (HttpContext c, string name) => Purge(c, store, name)).WithMetadata(new SecretPermission("purge"));
        secrets.MapPost("/deletedsecrets/{name}/recover", (HttpContext c, string name) => Recover(c, store, name)).WithMetadata(new SecretPermission("recover"));
        return app;
    }

    /// <summary>Runs before every secrets endpoint: vault selection, bearer token, api-version, access policy.</summary>
    private static async ValueTask<object?> AuthorizeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next, KeyVaultStore store, TokenIssuer tokens)
    {
        var http = context.HttpContext;
        http.Response.Headers["x-ms-request-id"] = Guid.NewGuid().ToString();
        http.Response.Headers["x-ms-keyvault-service-version"] = ServiceVersion;
        var vault = store.ResolveVault(http.Request.Host.Host);
        if (vault is null)
        {
            return Error(new KeyVaultError(404, "VaultNotFound",
                $"No vault matches the host '{http.Request.Host.Host}' and the scenario has {store.Scenario.Vaults.Count} vaults; address a vault as https://<vault-name>.vault.localhost:<port>/."));
        }

        var authorization = http.Request.Headers.Authorization.ToString();
        if (string.IsNullOrEmpty(authorization))
        {
            return Unauthorized(http, store, "AKV10000: Request is missing a Bearer or PoP token.");
        }
        if (!authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return Unauthorized(http, store, "The authorization scheme must be Bearer.");
        }
        if (!tokens.TryValidate(authorization, out var claims, out var problem))
        {
            return Unauthorized(http, store, $"Invalid token: {problem}.");
        }
        if (!TokenIssuer.SameAudience(claims.Audience, Resource))
        {
            return Unauthorized(http, store, $"AKV10022: Invalid audience. Expected {Resource}, found: {claims.Audience}.");
        }
        if (!string.Equals(claims.TenantId, store.Scenario.TenantId, StringComparison.OrdinalIgnoreCase))
        {
            return Unauthorized(http, store, $"AKV10032: Invalid issuer. Expected one of https://sts.windows.net/{store.Scenario.TenantId}/, found https://sts.windows.net/{claims.TenantId}/.");
        }

        var apiVersion = http.Request.Query["api-version"].ToString();
        if (apiVersion.Length == 0)
        {
            return Error(new KeyVaultError(400, "BadParameter", "The api-version query parameter is missing; add ?api-version=7.6 (or the version your client targets)."));
        }
        if (!ApiVersionPattern().IsMatch(apiVersion))
        {
            return Error(new KeyVaultError(400, "BadParameter", $"The specified version ({apiVersion}) is not recognized. Consider using the latest supported version (7.6)."));
        }

        if (!KeyVaultStore.IsAllowed(vault, claims.PrincipalId))
        {
            var permission = http.GetEndpoint()?.Metadata.GetMetadata<SecretPermission>()?.Name ?? "get";
            return Error(new KeyVaultError(403, "Forbidden",
                $"The user, group or application 'appid={claims.AppId ?? claims.PrincipalId};oid={claims.PrincipalId};iss={tokens.Issuer}' does not have secrets {permission} permission on key vault '{vault.Name};location={Location(store, vault)}'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287",
                "AccessDenied"));
        }
        http.Items[VaultItemKey] = vault;
        return await next(context).ConfigureAwait(false);
    }

    private static async Task<IResult> SetAsync(HttpContext context, KeyVaultStore store, string name)
    {
        var (body, bad) = await ReadBodyAsync(context).ConfigureAwait(false);
        if (bad is not null)
        {
            return bad;
        }
        if (body!.Value is null)
        {
            return Error(new KeyVaultError(400, "BadParameter", "Property value is required: the request body must contain \"value\"."));
        }
        if (!store.TrySet(VaultName(context), name, body.Value, ToChange(body), out var created, out var error))
        {
            return Error(error);
        }
        return Json(Bundle(context, created, withValue: true));
    }

    private static IResult Get(HttpContext context, KeyVaultStore store, string name, string? version)
    {
        if (!store.TryGet(VaultName(context), name, version, out var secret, out var error))
        {
            return Error(error);
        }
        // disabled secrets keep their value to themselves; exp and nbf are informational only (the service does not enforce them)
        if (!secret.Enabled)
        {
            return Error(new KeyVaultError(403, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled"));
        }
        return Json(Bundle(context, secret, withValue: true));
    }

    private static async Task<IResult> UpdateAsync(HttpContext context, KeyVaultStore store, string name, string? version)
    {
        var (body, bad) = await ReadBodyAsync(context).ConfigureAwait(false);
        if (bad is not null)
        {
            return bad;
        }
        if (!store.TryUpdate(VaultName(context), name, version, ToChange(body!), out var updated, out var error))
        {
            return Error(error);
        }
        return Json(Bundle(context, updated, withValue: false));
    }

    private static IResult Delete(HttpContext context, KeyVaultStore store, string name)
    {
        if (!store.TryDelete(VaultName(context), name, out var deleted, out var error))
        {
            return Error(error);
        }
        return Json(DeletedBundle(context, deleted));
    }

    private static IResult List(HttpContext context, KeyVaultStore store) =>
        Page(context, store.ListLatest(VaultName(context)), s => s.Name, s => Item(context, s, withVersion: false));

    private static IResult ListVersions(HttpContext context, KeyVaultStore store, string name)
    {
        if (!store.TryListVersions(VaultName(context), name, out var versions, out var error))
        {
            return Error(error);
        }
        return Page(context, versions, s => s.Version, s => Item(context, s, withVersion: true));
    }

    private static IResult ListDeleted(HttpContext context, KeyVaultStore store) =>
        Page(context, store.ListDeleted(VaultName(context)), d => d.Latest.Name, d => Item(context, d.Latest, withVersion: false) with
        {
            RecoveryId = RecoveryId(context, d.Latest.Name),
            DeletedDate = d.DeletedOn.ToUnixTimeSeconds(),
            ScheduledPurgeDate = d.ScheduledPurge.ToUnixTimeSeconds(),
        });

    private static IResult GetDeleted(HttpContext context, KeyVaultStore store, string name)
    {
        if (!store.TryGetDeleted(VaultName(context), name, out var deleted, out var error))
        {
            return Error(error);
        }
        return Json(DeletedBundle(context, deleted));
    }

    private static IResult Purge(HttpContext context, KeyVaultStore store, string name) =>
        store.TryPurge(VaultName(context), name, out var error) ? Results.NoContent() : Error(error);

    private static IResult Recover(HttpContext context, KeyVaultStore store, string name) =>
        store.TryRecover(VaultName(context), name, out var recovered, out var error)
            ? Json(Bundle(context, recovered, withValue: false))
            : Error(error);

    /// <summary>One page of a list: maxresults (1-25, default 25) items after the $skiptoken's key, with nextLink to the rest.</summary>
    private static IResult Page<T>(HttpContext context, IReadOnlyList<T> all, Func<T, string> key, Func<T, SecretItemJson> item)
    {
        var query = context.Request.Query;
        var size = MaxPageSize;
        if (query.TryGetValue("maxresults", out var max) && (!int.TryParse(max, NumberStyles.None, CultureInfo.InvariantCulture, out size) || size is < 1 or > MaxPageSize))
        {
            return Error(new KeyVaultError(400, "BadParameter", $"maxresults must be a number from 1 to {MaxPageSize}, not '{max}'."));
        }
        var start = 0;
        var skip = query["$skiptoken"].ToString();
        if (skip.Length > 0)
        {
            string after;
            try
            {
                after = Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(skip));
            }
            catch (FormatException)
            {
                return Error(new KeyVaultError(400, "BadParameter", "The $skiptoken is not one this vault issued; start the listing again without it."));
            }
            while (start < all.Count && string.Compare(key(all[start]), after, StringComparison.OrdinalIgnoreCase) <= 0)
            {
                start++;
            }
        }
        var page = all.Skip(start).Take(size).ToList();
        string? nextLink = null;
        if (start + page.Count < all.Count)
        {
            var token = System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(key(page[^1])));
            nextLink = $"{BaseUri(context)}{context.Request.Path}?api-version={Uri.EscapeDataString(query["api-version"].ToString())}&$skiptoken={token}&maxresults={size}";
        }
        return Results.Json(new SecretListResultJson { Value = [.. page.Select(item)], NextLink = nextLink }, KeyVaultJsonContext.Default.SecretListResultJson);
    }

    private static SecretBundleJson Bundle(HttpContext context, SecretVersion secret, bool withValue) => new()
    {
        Value = withValue ? secret.Value : null,
        ContentType = secret.ContentType,
        Id = $"{BaseUri(context)}/secrets/{secret.Name}/{secret.Version}",
        Attributes = Attributes(secret),
        Tags = secret.Tags.Count == 0 ? null : secret.Tags,
    };

    private static SecretBundleJson DeletedBundle(HttpContext context, DeletedSecret deleted) => Bundle(context, deleted.Latest, withValue: false) with
    {
        RecoveryId = RecoveryId(context, deleted.Latest.Name),
        DeletedDate = deleted.DeletedOn.ToUnixTimeSeconds(),
        ScheduledPurgeDate = deleted.ScheduledPurge.ToUnixTimeSeconds(),
    };

    private static SecretItemJson Item(HttpContext context, SecretVersion secret, bool withVersion) => new()
    {
        Id = withVersion ? $"{BaseUri(context)}/secrets/{secret.Name}/{secret.Version}" : $"{BaseUri(context)}/secrets/{secret.Name}",
        Attributes = Attributes(secret),
        Tags = secret.Tags.Count == 0 ? null : secret.Tags,
        ContentType = secret.ContentType,
    };

    private static SecretAttributesJson Attributes(SecretVersion secret) => new()
    {
        Enabled = secret.Enabled,
        NotBefore = secret.NotBefore?.ToUnixTimeSeconds(),
        Expires = secret.Expires?.ToUnixTimeSeconds(),
        Created = secret.Created.ToUnixTimeSeconds(),
        Updated = secret.Updated.ToUnixTimeSeconds(),
        RecoveryLevel = KeyVaultStore.RecoveryLevel,
        RecoverableDays = KeyVaultStore.RecoverableDays,
    };

    private static SecretChange ToChange(SecretParametersJson body) => new(
        body.ContentType,
        body.Attributes?.Enabled,
        body.Attributes?.NotBefore is { } nbf ? DateTimeOffset.FromUnixTimeSeconds(nbf) : null,
        body.Attributes?.Expires is { } exp ? DateTimeOffset.FromUnixTimeSeconds(exp) : null,
        body.Tags);

    private static async Task<(SecretParametersJson? Body, IResult? Error)> ReadBodyAsync(HttpContext context)
    {
        try
        {
            var body = await JsonSerializer.DeserializeAsync(context.Request.Body, KeyVaultJsonContext.Default.SecretParametersJson, context.RequestAborted).ConfigureAwait(false);
            return body is null
                ? (null, Error(new KeyVaultError(400, "BadParameter", "The request body is empty; send a JSON object.")))
                : (body, null);
        }
        catch (JsonException e)
        {
            return (null, Error(new KeyVaultError(400, "BadParameter", $"The request body is not valid JSON for this operation: {e.Message}")));
        }
    }

    private static IResult Unauthorized(HttpContext context, KeyVaultStore store, string message)
    {
        // the SDKs read authority (authorization / authorization_uri) and resource / scope from this challenge
        context.Response.Headers.WWWAuthenticate = $"Bearer authorization=\"https://login.microsoftonline.com/{store.Scenario.TenantId}\", resource=\"{Resource}\"";
        return Error(new KeyVaultError(401, "Unauthorized", message));
    }

    private static IResult Error(KeyVaultError error) => Results.Json(
        new KeyVaultErrorJson(new KeyVaultErrorBodyJson(error.Code, error.Message, error.InnerCode is null ? null : new KeyVaultInnerErrorJson(error.InnerCode))),
        KeyVaultJsonContext.Default.KeyVaultErrorJson,
        statusCode: error.Status);

    private static IResult Json(SecretBundleJson bundle) => Results.Json(bundle, KeyVaultJsonContext.Default.SecretBundleJson);

    private static string VaultName(HttpContext context) => ((VaultDefinition)context.Items[VaultItemKey]!).Name;

    private static string RecoveryId(HttpContext context, string name) => $"{BaseUri(context)}/deletedsecrets/{name}";

    private static string BaseUri(HttpContext context) => $"{context.Request.Scheme}://{context.Request.Host}";

    private static string Location(KeyVaultStore store, VaultDefinition vault) =>
        store.Scenario.Vms.FirstOrDefault(v => string.Equals(v.ResourceGroup, vault.ResourceGroup, StringComparison.OrdinalIgnoreCase))?.Location ?? "westeurope";

    [System.Text.RegularExpressions.GeneratedRegex(@"^(7\.\d+|20\d\d-\d\d-\d\d)(-preview(\.\d+)?)?$")]
    private static partial System.Text.RegularExpressions.Regex ApiVersionPattern();

    private sealed record SecretPermission(string Name);
}
