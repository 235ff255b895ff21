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
[JsonSerializable(typeof(ArmErrorResponseWire))]
[JsonSerializable(typeof(ArmListWire<VirtualMachineWire>))]
[JsonSerializable(typeof(VirtualMachineWire))]
[JsonSerializable(typeof(NetworkInterfaceWire))]
[JsonSerializable(typeof(PublicIpAddressWire))]
[JsonSerializable(typeof(NetworkSecurityGroupWire))]
[JsonSerializable(typeof(RunCommandInputWire))]
[JsonSerializable(typeof(RunCommandResultWire))]
[JsonSerializable(typeof(AsyncOperationWire))]
internal sealed partial class AzureJsonContext : JsonSerializerContext;
