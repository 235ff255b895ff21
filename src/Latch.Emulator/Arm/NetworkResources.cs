using System.Text.Json.Nodes;

namespace Latch.Emulator;

/// <summary>
/// Each VM's network resources, named as the portal names them: {vm}-nic (ipconfig1), {vm}-ip when the VM has a
/// public address, {vm}-nsg, in the virtual network {resource group}-vnet, subnet "default".
/// </summary>
internal static class NetworkResources
{
    public static string NicName(VmDefinition vm) => $"{vm.Name}-nic";

    public static string PublicIpName(VmDefinition vm) => $"{vm.Name}-ip";

    public static string NsgName(VmDefinition vm) => $"{vm.Name}-nsg";

    public static string NicId(Scenario scenario, VmDefinition vm) => Id(scenario, vm, "networkInterfaces", NicName(vm));

    public static string PublicIpId(Scenario scenario, VmDefinition vm) => Id(scenario, vm, "publicIPAddresses", PublicIpName(vm));

    public static string NsgId(Scenario scenario, VmDefinition vm) => Id(scenario, vm, "networkSecurityGroups", NsgName(vm));

    /// <summary>Azure's default for a Linux VM made in the portal: SSH open to any source.</summary>
    public static IReadOnlyList<SecurityRuleDefinition> PortalDefaultRules { get; } = [new SecurityRuleDefinition { Name = "SSH", Priority = 300 }];

    public static JsonObject NetworkInterface(Scenario scenario, VmDefinition vm)
    {
        var nicId = NicId(scenario, vm);
        var ipConfiguration = new JsonObject
        {
            ["provisioningState"] = "Succeeded",
            ["privateIPAddress"] = vm.PrivateIpAddress,
            ["privateIPAllocationMethod"] = "Dynamic",
            ["subnet"] = new JsonObject { ["id"] = $"{ArmResources.ResourceGroupId(scenario, vm.ResourceGroup)}/providers/Microsoft.Network/virtualNetworks/{vm.ResourceGroup}-vnet/subnets/default" },
            ["primary"] = true,
            ["privateIPAddressVersion"] = "IPv4",
        };
        if (vm.PublicIpAddress is not null)
        {
            ipConfiguration["publicIPAddress"] = new JsonObject { ["id"] = PublicIpId(scenario, vm) };
        }
        return Resource(vm, NicName(vm), nicId, "Microsoft.Network/networkInterfaces", new JsonObject
        {
            ["provisioningState"] = "Succeeded",
            ["resourceGuid"] = Guid(nicId),
            ["ipConfigurations"] = new JsonArray(new JsonObject
            {
                ["name"] = "ipconfig1",
                ["id"] = $"{nicId}/ipConfigurations/ipconfig1",
                ["type"] = "Microsoft.Network/networkInterfaces/ipConfigurations",
                ["properties"] = ipConfiguration,
            }),
            ["networkSecurityGroup"] = new JsonObject { ["id"] = NsgId(scenario, vm) },
            ["virtualMachine"] = new JsonObject { ["id"] = ArmResources.VmId(scenario, vm) },
            ["primary"] = true,
            ["enableAcceleratedNetworking"] = false,
            ["enableIPForwarding"] = false,
            ["macAddress"] = MacAddress(vm),
        });
    }

    public static JsonObject PublicIpAddress(Scenario scenario, VmDefinition vm)
    {
        var id = PublicIpId(scenario, vm);
        var body = Resource(vm, PublicIpName(vm), id, "Microsoft.Network/publicIPAddresses", new JsonObject
        {
            ["provisioningState"] = "Succeeded",
            ["resourceGuid"] = Guid(id),
            ["ipAddress"] = vm.PublicIpAddress,
            ["publicIPAddressVersion"] = "IPv4",
            ["publicIPAllocationMethod"] = "Static",
            ["idleTimeoutInMinutes"] = 4,
            ["ipConfiguration"] = new JsonObject { ["id"] = $"{NicId(scenario, vm)}/ipConfigurations/ipconfig1" },
        });
        body["sku"] = new JsonObject { ["name"] = "Standard", ["tier"] = "Regional" };
        return body;
    }

    public static JsonObject NetworkSecurityGroup(Scenario scenario, VmDefinition vm)
    {
        var id = NsgId(scenario, vm);
        return Resource(vm, NsgName(vm), id, "Microsoft.Network/networkSecurityGroups", new JsonObject
        {
            ["provisioningState"] = "Succeeded",
            ["resourceGuid"] = Guid(id),
            ["securityRules"] = new JsonArray([.. (vm.SecurityRules ?? PortalDefaultRules).Select(r => (JsonNode)Rule(id, "securityRules", r))]),
            ["defaultSecurityRules"] = new JsonArray(
            [
                Rule(id, "defaultSecurityRules", Default("AllowVnetInBound", 65000, "Inbound", "Allow", "VirtualNetwork", "VirtualNetwork", "Allow inbound traffic from all VMs in VNET")),
                Rule(id, "defaultSecurityRules", Default("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow", "AzureLoadBalancer", "*", "Allow inbound traffic from azure load balancer")),
                Rule(id, "defaultSecurityRules", Default("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*", "Deny all inbound traffic")),
                Rule(id, "defaultSecurityRules", Default("AllowVnetOutBound", 65000, "Outbound", "Allow", "VirtualNetwork", "VirtualNetwork", "Allow outbound traffic from all VMs to all VMs in VNET")),
                Rule(id, "defaultSecurityRules", Default("AllowInternetOutBound", 65001, "Outbound", "Allow", "*", "Internet", "Allow outbound traffic from all VMs to Internet")),
                Rule(id, "defaultSecurityRules", Default("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*", "Deny all outbound traffic")),
            ]),
            ["networkInterfaces"] = new JsonArray(new JsonObject { ["id"] = NicId(scenario, vm) }),
        });
    }

    private static (SecurityRuleDefinition Rule, string Description) Default(string name, int priority, string direction, string access, string source, string destination, string description) =>
        (new SecurityRuleDefinition
        {
            Name = name,
            Priority = priority,
            Direction = direction,
            Access = access,
            Protocol = "*",
            SourceAddressPrefix = source,
            DestinationAddressPrefix = destination,
            DestinationPortRange = "*",
        }, description);

    private static JsonObject Rule(string nsgId, string collection, SecurityRuleDefinition rule) => Rule(nsgId, collection, (rule, null));

    private static JsonObject Rule(string nsgId, string collection, (SecurityRuleDefinition Rule, string? Description) entry)
    {
        var (rule, description) = entry;
        var properties = new JsonObject
        {
            ["provisioningState"] = "Succeeded",
            ["protocol"] = rule.Protocol, // ARM spells them Tcp, Udp, Icmp, *: as the scenario does
            ["sourcePortRange"] = rule.SourcePortRange,
            ["destinationPortRange"] = rule.DestinationPortRange,
            ["sourceAddressPrefix"] = rule.SourceAddressPrefix,
            ["destinationAddressPrefix"] = rule.DestinationAddressPrefix,
            ["access"] = rule.Access,
            ["priority"] = rule.Priority,
            ["direction"] = rule.Direction,
            ["sourcePortRanges"] = new JsonArray(),
            ["destinationPortRanges"] = new JsonArray(),
            ["sourceAddressPrefixes"] = new JsonArray(),
            ["destinationAddressPrefixes"] = new JsonArray(),
        };
        if (description is not null)
        {
            properties["description"] = description;
        }
        return new JsonObject
        {
            ["name"] = rule.Name,
            ["id"] = $"{nsgId}/{collection}/{rule.Name}",
            ["type"] = $"Microsoft.Network/networkSecurityGroups/{collection}",
            ["properties"] = properties,
        };
    }

    private static JsonObject Resource(VmDefinition vm, string name, string id, string type, JsonObject properties) => new()
    {
        ["name"] = name,
        ["id"] = id,
        ["etag"] = $"W/\"{Guid(id + "/etag")}\"",
        ["type"] = type,
        ["location"] = vm.Location,
        ["properties"] = properties,
    };

    private static string Id(Scenario scenario, VmDefinition vm, string type, string name) =>
        $"{ArmResources.ResourceGroupId(scenario, vm.ResourceGroup)}/providers/Microsoft.Network/{type}/{name}";

    private static string Guid(string seed) => new System.Guid(Convert.FromHexString(ArmResources.ShortHash(seed))).ToString();

    private static string MacAddress(VmDefinition vm) =>
        "00-0D-3A-" + string.Join('-', Convert.FromHexString(ArmResources.ShortHash(vm.VmId)).Take(3).Select(b => b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture)));
}
