using System.Text.Json.Serialization;

namespace Latch.Emulator;

internal sealed record TokenPayload
{
    [JsonPropertyName("aud")] public string? Aud { get; init; }
    [JsonPropertyName("iss")] public string? Iss { get; init; }
    [JsonPropertyName("iat")] public long Iat { get; init; }
    [JsonPropertyName("nbf")] public long Nbf { get; init; }
    [JsonPropertyName("exp")] public long Exp { get; init; }
    [JsonPropertyName("appid")] public string? AppId { get; init; }
    [JsonPropertyName("oid")] public string? Oid { get; init; }
    [JsonPropertyName("sub")] public string? Sub { get; init; }
    [JsonPropertyName("tid")] public string? Tid { get; init; }
    [JsonPropertyName("ver")] public string? Ver { get; init; }
}

/// <summary>IMDS's managed-identity token response: every value is a string, as the real endpoint sends it.</summary>
internal sealed record ImdsTokenResponse(
    [property: JsonPropertyName("access_token")] string AccessToken,
    [property: JsonPropertyName("client_id")] string ClientId,
    [property: JsonPropertyName("expires_in")] string ExpiresIn,
    [property: JsonPropertyName("expires_on")] string ExpiresOn,
    [property: JsonPropertyName("ext_expires_in")] string ExtExpiresIn,
    [property: JsonPropertyName("not_before")] string NotBefore,
    [property: JsonPropertyName("resource")] string Resource,
    [property: JsonPropertyName("token_type")] string TokenType);

/// <summary>OAuth 2.0 error body (IMDS identity endpoint and Entra token endpoint).</summary>
internal sealed record OAuthError(
    [property: JsonPropertyName("error")] string Error,
    [property: JsonPropertyName("error_description")] string ErrorDescription)
{
    [JsonPropertyName("error_codes")] public IReadOnlyList<int>? ErrorCodes { get; init; }
    [JsonPropertyName("timestamp")] public string? Timestamp { get; init; }
    [JsonPropertyName("trace_id")] public string? TraceId { get; init; }
    [JsonPropertyName("correlation_id")] public string? CorrelationId { get; init; }
}

/// <summary>Entra v2 token endpoint response: numbers for lifetimes, unlike IMDS.</summary>
internal sealed record EntraTokenResponse(
    [property: JsonPropertyName("token_type")] string TokenType,
    [property: JsonPropertyName("expires_in")] long ExpiresIn,
    [property: JsonPropertyName("ext_expires_in")] long ExtExpiresIn,
    [property: JsonPropertyName("access_token")] string AccessToken);

internal sealed record OpenIdConfiguration(
    [property: JsonPropertyName("token_endpoint")] string TokenEndpoint,
    [property: JsonPropertyName("token_endpoint_auth_methods_supported")] IReadOnlyList<string> TokenEndpointAuthMethodsSupported,
    [property: JsonPropertyName("jwks_uri")] string JwksUri,
    [property: JsonPropertyName("response_modes_supported")] IReadOnlyList<string> ResponseModesSupported,
    [property: JsonPropertyName("subject_types_supported")] IReadOnlyList<string> SubjectTypesSupported,
    [property: JsonPropertyName("id_token_signing_alg_values_supported")] IReadOnlyList<string> IdTokenSigningAlgValuesSupported,
    [property: JsonPropertyName("response_types_supported")] IReadOnlyList<string> ResponseTypesSupported,
    [property: JsonPropertyName("scopes_supported")] IReadOnlyList<string> ScopesSupported,
    [property: JsonPropertyName("issuer")] string Issuer,
    [property: JsonPropertyName("authorization_endpoint")] string AuthorizationEndpoint,
    [property: JsonPropertyName("device_authorization_endpoint")] string DeviceAuthorizationEndpoint,
    [property: JsonPropertyName("end_session_endpoint")] string EndSessionEndpoint,
    [property: JsonPropertyName("tenant_region_scope")] string? TenantRegionScope,
    [property: JsonPropertyName("cloud_instance_name")] string CloudInstanceName);

internal sealed record InstanceDiscoveryResponse(
    [property: JsonPropertyName("tenant_discovery_endpoint")] string TenantDiscoveryEndpoint,
    [property: JsonPropertyName("api-version")] string ApiVersion,
    [property: JsonPropertyName("metadata")] IReadOnlyList<InstanceDiscoveryMetadata> Metadata);

internal sealed record InstanceDiscoveryMetadata(
    [property: JsonPropertyName("preferred_network")] string PreferredNetwork,
    [property: JsonPropertyName("preferred_cache")] string PreferredCache,
    [property: JsonPropertyName("aliases")] IReadOnlyList<string> Aliases);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(TokenPayload))]
[JsonSerializable(typeof(ImdsTokenResponse))]
[JsonSerializable(typeof(OAuthError))]
[JsonSerializable(typeof(EntraTokenResponse))]
[JsonSerializable(typeof(OpenIdConfiguration))]
[JsonSerializable(typeof(InstanceDiscoveryResponse))]
internal sealed partial class IdentityJsonContext : JsonSerializerContext;
