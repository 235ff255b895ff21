using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Latch.Emulator;

/// <summary>
/// Token endpoints: IMDS's managed-identity endpoint (for VMs) and an Entra-style v2 token endpoint
/// (client credentials, for operators) so Azure.Identity's ClientSecretCredential can use the emulator as its authority.
/// </summary>
internal static class IdentityEndpoints
{
    /// <summary>Managed identity tokens live a day, as on Azure (expires_in ~86399).</summary>
    public static readonly TimeSpan ManagedIdentityTokenLifetime = TimeSpan.FromHours(24);

    /// <summary>Entra client-credential tokens live an hour (expires_in 3599).</summary>
    public static readonly TimeSpan ClientCredentialTokenLifetime = TimeSpan.FromSeconds(3599);

    /// <summary>
    /// GET /metadata/identity/oauth2/token?api-version=…&amp;resource=… with header Metadata: true.
    /// <paramref name="resolveVm"/> says which VM a request comes from; null means no identity (400 "Identity not found").
    /// </summary>
    public static IEndpointRouteBuilder MapManagedIdentity(this IEndpointRouteBuilder imds, Func<HttpContext, VmDefinition?> resolveVm, TokenIssuer tokens)
    {
        ArgumentNullException.ThrowIfNull(imds);
        ArgumentNullException.ThrowIfNull(resolveVm);
        ArgumentNullException.ThrowIfNull(tokens);
        imds.MapGet("/metadata/identity/oauth2/token", (HttpContext context) => ManagedIdentityToken(context, resolveVm, tokens));
        return imds;
    }

    /// <summary>
    /// POST /{tenant}/oauth2/v2.0/token (client_credentials), GET /{tenant}/v2.0/.well-known/openid-configuration and
    /// GET /common/discovery/instance: enough for MSAL with the emulator as authority host.
    /// </summary>
    public static IEndpointRouteBuilder MapEntraTokenEndpoint(this IEndpointRouteBuilder app, Scenario scenario, TokenIssuer tokens)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(tokens);
        app.MapPost("/{tenant}/oauth2/v2.0/token", (HttpContext context, string tenant) => ClientCredentialsTokenAsync(context, tenant, scenario, tokens));
        app.MapGet("/{tenant}/v2.0/.well-known/openid-configuration", (HttpContext context, string tenant) => OpenIdConfigurationDocument(context, tenant, scenario));
        app.MapGet("/common/discovery/instance", (HttpContext context) =>
        {
            var host = context.Request.Host.Value ?? "localhost";
            var tenant = scenario.TenantId;
            var authorize = context.Request.Query["authorization_endpoint"].ToString();
            // MSAL passes the tenant-specific authorize URL; answer for that tenant when it names one
            if (Uri.TryCreate(authorize, UriKind.Absolute, out var uri) && uri.Segments.Length > 1)
            {
                tenant = uri.Segments[1].TrimEnd('/');
            }
            return Results.Json(
                new InstanceDiscoveryResponse($"{BaseUri(context)}/{tenant}/v2.0/.well-known/openid-configuration", "1.1", [new InstanceDiscoveryMetadata(host, host, [host])]),
                IdentityJsonContext.Default.InstanceDiscoveryResponse);
        });
        return app;
    }

    /// <summary>The client id IMDS reports for a VM's system-assigned identity: derived from the principal id, stable across runs.</summary>
    public static string ManagedIdentityClientId(VmDefinition vm)
    {
        ArgumentNullException.ThrowIfNull(vm);
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes("latch-mi-client:" + vm.PrincipalId));
        hash[7] = (byte)((hash[7] & 0x0F) | 0x40); // version 4 layout, so it looks like every other Azure GUID
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash.AsSpan(0, 16), bigEndian: true).ToString();
    }

    private static IResult ManagedIdentityToken(HttpContext context, Func<HttpContext, VmDefinition?> resolveVm, TokenIssuer tokens)
    {
        var query = context.Request.Query;
        if (!string.Equals(context.Request.Headers["Metadata"].ToString(), "true", StringComparison.OrdinalIgnoreCase))
        {
            return ImdsError("invalid_request", "Required metadata header not specified");
        }
        if (string.IsNullOrEmpty(query["api-version"].ToString()))
        {
            return ImdsError("invalid_request", "Required query variable 'api-version' is missing");
        }
        var resource = query["resource"].ToString();
        if (string.IsNullOrWhiteSpace(resource))
        {
            return ImdsError("invalid_request", "Required audience parameter not specified");
        }
        var vm = resolveVm(context);
        if (vm is null)
        {
            return ImdsError("invalid_request", "Identity not found");
        }
        var clientId = ManagedIdentityClientId(vm);
        // a request for a specific (user-assigned) identity only matches the VM's own system-assigned one
        if ((query.TryGetValue("client_id", out var askedClient) && !string.Equals(askedClient.ToString(), clientId, StringComparison.OrdinalIgnoreCase))
            || (query.TryGetValue("object_id", out var askedObject) && !string.Equals(askedObject.ToString(), vm.PrincipalId, StringComparison.OrdinalIgnoreCase))
            || (query.TryGetValue("principal_id", out var askedPrincipal) && !string.Equals(askedPrincipal.ToString(), vm.PrincipalId, StringComparison.OrdinalIgnoreCase))
            || query.ContainsKey("msi_res_id") || query.ContainsKey("mi_res_id"))
        {
            return ImdsError("invalid_request", "Identity not found");
        }

        var now = tokens.Time.GetUtcNow();
        var token = tokens.Issue(vm.PrincipalId, resource, ManagedIdentityTokenLifetime, clientId);
        var seconds = (long)ManagedIdentityTokenLifetime.TotalSeconds;
        var expiresIn = (seconds - 1).ToString(CultureInfo.InvariantCulture);
        return Results.Json(
            new ImdsTokenResponse(token, clientId, expiresIn, (now.ToUnixTimeSeconds() + seconds).ToString(CultureInfo.InvariantCulture), expiresIn,
                now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture), resource, "Bearer"),
            IdentityJsonContext.Default.ImdsTokenResponse);
    }

    private static async Task<IResult> ClientCredentialsTokenAsync(HttpContext context, string tenant, Scenario scenario, TokenIssuer tokens)
    {
        if (!string.Equals(tenant, scenario.TenantId, StringComparison.OrdinalIgnoreCase))
        {
            return EntraError(tokens.Time, StatusCodes.Status400BadRequest, "invalid_request", 90002,
                $"AADSTS90002: Tenant '{tenant}' not found. The emulator's only tenant is '{scenario.TenantId}'.");
        }
        if (!context.Request.HasFormContentType)
        {
            return EntraError(tokens.Time, StatusCodes.Status400BadRequest, "invalid_request", 900144,
                "AADSTS900144: The request body must contain the following parameter: 'grant_type' (send application/x-www-form-urlencoded).");
        }
        var form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
        var grantType = form["grant_type"].ToString();
        if (grantType != "client_credentials")
        {
            return EntraError(tokens.Time, StatusCodes.Status400BadRequest, "unsupported_grant_type", 70003,
                $"AADSTS70003: The app requested an unsupported grant type '{grantType}'. The emulator supports only client_credentials.");
        }
        var clientId = form["client_id"].ToString();
        var principal = scenario.ServicePrincipals.FirstOrDefault(p => string.Equals(p.ClientId, clientId, StringComparison.OrdinalIgnoreCase));
        if (principal is null)
        {
            return EntraError(tokens.Time, StatusCodes.Status400BadRequest, "unauthorized_client", 700016,
                $"AADSTS700016: Application with identifier '{clientId}' was not found in the directory '{scenario.TenantId}'. Add it to the scenario's service principals.");
        }
        var secret = form["client_secret"].ToString();
        if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(principal.ClientSecret)))
        {
            return EntraError(tokens.Time, StatusCodes.Status401Unauthorized, "invalid_client", 7000215,
                $"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{clientId}'.");
        }
        var scopes = form["scope"].ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var resourceScopes = scopes.Where(s => s.EndsWith("/.default", StringComparison.Ordinal)).ToList();
        if (resourceScopes.Count != 1)
        {
            return EntraError(tokens.Time, StatusCodes.Status400BadRequest, "invalid_scope", 1002012,
                $"AADSTS1002012: The provided value for scope '{form["scope"]}' is not valid. Client credential flows must have one scope value with /.default suffixed to the resource identifier (application ID URI).");
        }
        var resource = resourceScopes[0][..^"/.default".Length];
        // Entra writes the audience of https://management.azure.com//.default-style scopes without the doubled slash
        resource = resource.EndsWith("//", StringComparison.Ordinal) ? resource[..^1] : resource;
        var token = tokens.Issue(principal.PrincipalId ?? principal.ClientId, resource, ClientCredentialTokenLifetime, principal.ClientId);
        var seconds = (long)ClientCredentialTokenLifetime.TotalSeconds;
        return Results.Json(new EntraTokenResponse("Bearer", seconds, seconds, token), IdentityJsonContext.Default.EntraTokenResponse);
    }

    private static IResult OpenIdConfigurationDocument(HttpContext context, string tenant, Scenario scenario)
    {
        var tenantId = tenant is "common" or "organizations" ? scenario.TenantId : tenant;
        var authority = $"{BaseUri(context)}/{tenantId}";
        return Results.Json(
            new OpenIdConfiguration(
                TokenEndpoint: $"{authority}/oauth2/v2.0/token",
                TokenEndpointAuthMethodsSupported: ["client_secret_post", "client_secret_basic"],
                JwksUri: $"{authority}/discovery/v2.0/keys",
                ResponseModesSupported: ["query", "fragment", "form_post"],
                SubjectTypesSupported: ["pairwise"],
                IdTokenSigningAlgValuesSupported: ["RS256"],
                ResponseTypesSupported: ["code", "id_token", "code id_token", "id_token token"],
                ScopesSupported: ["openid", "profile", "email", "offline_access"],
                Issuer: $"{authority}/v2.0",
                AuthorizationEndpoint: $"{authority}/oauth2/v2.0/authorize",
                DeviceAuthorizationEndpoint: $"{authority}/oauth2/v2.0/devicecode",
                EndSessionEndpoint: $"{authority}/oauth2/v2.0/logout",
                TenantRegionScope: null,
                CloudInstanceName: context.Request.Host.Host),
            IdentityJsonContext.Default.OpenIdConfiguration);
    }

    private static string BaseUri(HttpContext context) => $"{context.Request.Scheme}://{context.Request.Host}";

    private static IResult ImdsError(string error, string description) =>
        Results.Json(new OAuthError(error, description), IdentityJsonContext.Default.OAuthError, statusCode: StatusCodes.Status400BadRequest);

    private static IResult EntraError(TimeProvider time, int status, string error, int code, string description) =>
        Results.Json(
            new OAuthError(error, description)
            {
                ErrorCodes = [code],
                Timestamp = time.GetUtcNow().ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                TraceId = Guid.NewGuid().ToString(),
                CorrelationId = Guid.NewGuid().ToString(),
            },
            IdentityJsonContext.Default.OAuthError,
            statusCode: status);
}
