using System.Text.Json.Serialization;

namespace Latch.Azure.Json;

/// <summary>Every JSON shape Latch.Azure reads or writes: source-generated, so NativeAOT needs no reflection.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    PropertyNameCaseInsensitive = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.AllowReadingFromString)]
[JsonSerializable(typeof(ImdsInstanceWire))]
[JsonSerializable(typeof(ManagedIdentityTokenWire))]
[JsonSerializable(typeof(ManagedIdentityErrorWire))]
[JsonSerializable(typeof(ProvisioningHealthWire))]
internal sealed partial class AzureJsonContext : JsonSerializerContext;
