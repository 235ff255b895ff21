using System.Text.Json;
using System.Text.Json.Serialization;

namespace Latch.Azure.Json;

// IMDS JSON as sent; every field optional here, required ones are checked when mapping to ImdsInstance.
internal sealed class ImdsInstanceWire
{
    public ImdsComputeWire? Compute { get; set; }

    public ImdsNetworkWire? Network { get; set; }
}

internal sealed class ImdsComputeWire
{
    public string? Name { get; set; }

    public string? VmId { get; set; }

    public string? Location { get; set; }

    public string? ResourceGroupName { get; set; }

    public string? SubscriptionId { get; set; }

    public string? VmSize { get; set; }

    public string? Tags { get; set; }

    public List<ImdsTagWire>? TagsList { get; set; }

    public ImdsOsProfileWire? OsProfile { get; set; }

    public List<ImdsPublicKeyWire>? PublicKeys { get; set; }

    public string? CustomData { get; set; }

    public string? UserData { get; set; }
}

internal sealed class ImdsTagWire
{
    public string? Name { get; set; }

    public string? Value { get; set; }
}

internal sealed class ImdsOsProfileWire
{
    public string? AdminUsername { get; set; }

    public string? ComputerName { get; set; }

    [JsonConverter(typeof(LenientBooleanConverter))]
    public bool? DisablePasswordAuthentication { get; set; }
}

internal sealed class ImdsPublicKeyWire
{
    public string? KeyData { get; set; }

    public string? Path { get; set; }
}

internal sealed class ImdsNetworkWire
{
    [JsonPropertyName("interface")]
    public List<ImdsInterfaceWire>? Interfaces { get; set; }
}

internal sealed class ImdsInterfaceWire
{
    public string? MacAddress { get; set; }

    public ImdsIpv4Wire? Ipv4 { get; set; }
}

internal sealed class ImdsIpv4Wire
{
    public List<ImdsIpAddressWire>? IpAddress { get; set; }

    public List<ImdsSubnetWire>? Subnet { get; set; }
}

internal sealed class ImdsIpAddressWire
{
    public string? PrivateIpAddress { get; set; }

    public string? PublicIpAddress { get; set; }
}

internal sealed class ImdsSubnetWire
{
    public string? Address { get; set; }

    public string? Prefix { get; set; }
}

internal sealed class ManagedIdentityTokenWire
{
    [JsonPropertyName("access_token")]
    public string? AccessToken { get; set; }

    [JsonPropertyName("expires_on")]
    [JsonConverter(typeof(LenientInt64Converter))]
    public long? ExpiresOn { get; set; }

    [JsonPropertyName("expires_in")]
    [JsonConverter(typeof(LenientInt64Converter))]
    public long? ExpiresIn { get; set; }

    [JsonPropertyName("token_type")]
    public string? TokenType { get; set; }
}

internal sealed class ManagedIdentityErrorWire
{
    [JsonPropertyName("error")]
    public string? Error { get; set; }

    [JsonPropertyName("error_description")]
    public string? ErrorDescription { get; set; }
}

/// <summary>Reads <c>true</c>/<c>false</c> as JSON booleans or as strings (IMDS sends the string form; azure-init accepts both).</summary>
internal sealed class LenientBooleanConverter : JsonConverter<bool?>
{
    public override bool? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.True => true,
        JsonTokenType.False => false,
        JsonTokenType.Null => null,
        JsonTokenType.String when bool.TryParse(reader.GetString()?.Trim(), out var value) => value,
        JsonTokenType.String when string.IsNullOrWhiteSpace(reader.GetString()) => null,
        _ => throw new JsonException($"expected true or false, got {reader.TokenType} {(reader.TokenType == JsonTokenType.String ? "'" + reader.GetString() + "'" : "")}"),
    };

    public override void Write(Utf8JsonWriter writer, bool? value, JsonSerializerOptions options)
    {
        if (value is { } v)
        {
            writer.WriteBooleanValue(v);
        }
        else
        {
            writer.WriteNullValue();
        }
    }
}

/// <summary>Reads an integer sent as a JSON number or as a numeric string (token endpoints do both).</summary>
internal sealed class LenientInt64Converter : JsonConverter<long?>
{
    public override long? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.Number => reader.GetInt64(),
        JsonTokenType.Null => null,
        JsonTokenType.String when long.TryParse(reader.GetString(), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var value) => value,
        _ => throw new JsonException($"expected an integer, got {reader.TokenType}"),
    };

    public override void Write(Utf8JsonWriter writer, long? value, JsonSerializerOptions options)
    {
        if (value is { } v)
        {
            writer.WriteNumberValue(v);
        }
        else
        {
            writer.WriteNullValue();
        }
    }
}

internal sealed class ProvisioningHealthWire
{
    public string? State { get; set; }

    public ProvisioningHealthDetailsWire? Details { get; set; }
}

internal sealed class ProvisioningHealthDetailsWire
{
    public string? SubStatus { get; set; }

    public string? Description { get; set; }
}
