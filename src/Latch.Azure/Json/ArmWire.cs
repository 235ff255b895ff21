using System.Text.Json.Serialization;

namespace Latch.Azure.Json;

// ARM JSON as sent; optional everywhere, the clients decide what is required.
internal sealed class ArmErrorResponseWire
{
    public ArmErrorWire? Error { get; set; }
}

internal sealed class ArmErrorWire
{
    public string? Code { get; set; }

    public string? Message { get; set; }
}

internal sealed class ArmListWire<T>
{
    public List<T>? Value { get; set; }

    public string? NextLink { get; set; }
}

internal sealed class ArmIdWire
{
    public string? Id { get; set; }
}

internal sealed class VirtualMachineWire
{
    public string? Id { get; set; }

    public string? Name { get; set; }

    public string? Location { get; set; }

    public Dictionary<string, string>? Tags { get; set; }

    public VirtualMachinePropertiesWire? Properties { get; set; }
}

internal sealed class VirtualMachinePropertiesWire
{
    public string? VmId { get; set; }

    public string? ProvisioningState { get; set; }

    public HardwareProfileWire? HardwareProfile { get; set; }

    public StorageProfileWire? StorageProfile { get; set; }

    public OsProfileWire? OsProfile { get; set; }

    public NetworkProfileWire? NetworkProfile { get; set; }

    public InstanceViewWire? InstanceView { get; set; }
}

internal sealed class HardwareProfileWire
{
    public string? VmSize { get; set; }
}

internal sealed class StorageProfileWire
{
    public OsDiskWire? OsDisk { get; set; }
}

internal sealed class OsDiskWire
{
    public string? OsType { get; set; }
}

internal sealed class OsProfileWire
{
    public string? ComputerName { get; set; }

    public string? AdminUsername { get; set; }
}

internal sealed class NetworkProfileWire
{
    public List<NetworkInterfaceReferenceWire>? NetworkInterfaces { get; set; }
}

internal sealed class NetworkInterfaceReferenceWire
{
    public string? Id { get; set; }

    public PrimaryWire? Properties { get; set; }
}

internal sealed class PrimaryWire
{
    public bool? Primary { get; set; }
}

internal sealed class InstanceViewWire
{
    public List<InstanceViewStatusWire>? Statuses { get; set; }
}

internal sealed class InstanceViewStatusWire
{
    public string? Code { get; set; }

    public string? Level { get; set; }

    public string? DisplayStatus { get; set; }

    public string? Message { get; set; }
}

internal sealed class NetworkInterfaceWire
{
    public string? Id { get; set; }

    public NetworkInterfacePropertiesWire? Properties { get; set; }
}

internal sealed class NetworkInterfacePropertiesWire
{
    public List<IpConfigurationWire>? IpConfigurations { get; set; }

    public ArmIdWire? NetworkSecurityGroup { get; set; }
}

internal sealed class IpConfigurationWire
{
    public string? Name { get; set; }

    public IpConfigurationPropertiesWire? Properties { get; set; }
}

internal sealed class IpConfigurationPropertiesWire
{
    [JsonPropertyName("privateIPAddress")]
    public string? PrivateIpAddress { get; set; }

    public bool? Primary { get; set; }

    [JsonPropertyName("publicIPAddress")]
    public ArmIdWire? PublicIpAddress { get; set; }
}

internal sealed class PublicIpAddressWire
{
    public PublicIpAddressPropertiesWire? Properties { get; set; }
}

internal sealed class PublicIpAddressPropertiesWire
{
    public string? IpAddress { get; set; }
}

internal sealed class NetworkSecurityGroupWire
{
    public NetworkSecurityGroupPropertiesWire? Properties { get; set; }
}

internal sealed class NetworkSecurityGroupPropertiesWire
{
    public List<SecurityRuleWire>? SecurityRules { get; set; }

    public List<SecurityRuleWire>? DefaultSecurityRules { get; set; }
}

internal sealed class SecurityRuleWire
{
    public string? Name { get; set; }

    public SecurityRulePropertiesWire? Properties { get; set; }
}

internal sealed class SecurityRulePropertiesWire
{
    public int? Priority { get; set; }

    public string? Direction { get; set; }

    public string? Access { get; set; }

    public string? Protocol { get; set; }

    public string? SourceAddressPrefix { get; set; }

    public List<string>? SourceAddressPrefixes { get; set; }

    public string? SourcePortRange { get; set; }

    public string? DestinationAddressPrefix { get; set; }

    public string? DestinationPortRange { get; set; }

    public List<string>? DestinationPortRanges { get; set; }
}

internal sealed class RunCommandInputWire
{
    public string? CommandId { get; set; }

    public List<string>? Script { get; set; }

    public List<RunCommandParameterWire>? Parameters { get; set; }
}

internal sealed class RunCommandParameterWire
{
    public string? Name { get; set; }

    public string? Value { get; set; }
}

/// <summary>The final body of a run command (Location result), or the <c>output</c> of an Azure-AsyncOperation.</summary>
internal sealed class RunCommandResultWire
{
    public List<InstanceViewStatusWire>? Value { get; set; }
}

internal sealed class AsyncOperationWire
{
    public string? Status { get; set; }

    public ArmErrorWire? Error { get; set; }

    public AsyncOperationPropertiesWire? Properties { get; set; }
}

internal sealed class AsyncOperationPropertiesWire
{
    public RunCommandResultWire? Output { get; set; }
}
