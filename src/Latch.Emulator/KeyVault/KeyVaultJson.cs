using System.Text.Json.Serialization;

namespace Latch.Emulator;

// Key Vault data-plane wire shapes (secrets, api-version 7.x): attribute times are Unix seconds.

internal sealed record SecretAttributesJson
{
    [JsonPropertyName("enabled")] public bool? Enabled { get; init; }
    [JsonPropertyName("nbf")] public long? NotBefore { get; init; }
    [JsonPropertyName("exp")] public long? Expires { get; init; }
    [JsonPropertyName("created")] public long? Created { get; init; }
    [JsonPropertyName("updated")] public long? Updated { get; init; }
    [JsonPropertyName("recoveryLevel")] public string? RecoveryLevel { get; init; }
    [JsonPropertyName("recoverableDays")] public int? RecoverableDays { get; init; }
}

/// <summary>SecretBundle, and DeletedSecretBundle when the recovery fields are set.</summary>
internal sealed record SecretBundleJson
{
    [JsonPropertyName("value")] public string? Value { get; init; }
    [JsonPropertyName("contentType")] public string? ContentType { get; init; }
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("attributes")] public required SecretAttributesJson Attributes { get; init; }
    [JsonPropertyName("tags")] public IReadOnlyDictionary<string, string>? Tags { get; init; }
    [JsonPropertyName("recoveryId")] public string? RecoveryId { get; init; }
    [JsonPropertyName("deletedDate")] public long? DeletedDate { get; init; }
    [JsonPropertyName("scheduledPurgeDate")] public long? ScheduledPurgeDate { get; init; }
}

/// <summary>SecretItem (list entries: no value).</summary>
internal sealed record SecretItemJson
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("attributes")] public required SecretAttributesJson Attributes { get; init; }
    [JsonPropertyName("tags")] public IReadOnlyDictionary<string, string>? Tags { get; init; }
    [JsonPropertyName("contentType")] public string? ContentType { get; init; }
    [JsonPropertyName("recoveryId")] public string? RecoveryId { get; init; }
    [JsonPropertyName("deletedDate")] public long? DeletedDate { get; init; }
    [JsonPropertyName("scheduledPurgeDate")] public long? ScheduledPurgeDate { get; init; }
}

internal sealed record SecretListResultJson
{
    [JsonPropertyName("value")] public required IReadOnlyList<SecretItemJson> Value { get; init; }

    // the service always sends nextLink, null on the last page
    [JsonPropertyName("nextLink"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public string? NextLink { get; init; }
}

/// <summary>SecretSetParameters (PUT) and SecretUpdateParameters (PATCH, no value).</summary>
internal sealed record SecretParametersJson
{
    [JsonPropertyName("value")] public string? Value { get; init; }
    [JsonPropertyName("tags")] public Dictionary<string, string>? Tags { get; init; }
    [JsonPropertyName("contentType")] public string? ContentType { get; init; }
    [JsonPropertyName("attributes")] public SecretAttributesJson? Attributes { get; init; }
}

internal sealed record KeyVaultErrorJson([property: JsonPropertyName("error")] KeyVaultErrorBodyJson Error);

internal sealed record KeyVaultErrorBodyJson(
    [property: JsonPropertyName("code")] string Code,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("innererror")] KeyVaultInnerErrorJson? InnerError);

internal sealed record KeyVaultInnerErrorJson([property: JsonPropertyName("code")] string Code);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SecretBundleJson))]
[JsonSerializable(typeof(SecretListResultJson))]
[JsonSerializable(typeof(SecretParametersJson))]
[JsonSerializable(typeof(KeyVaultErrorJson))]
internal sealed partial class KeyVaultJsonContext : JsonSerializerContext;
