using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Latch.Emulator;

// ARM resource documents. They are built as JSON DOM (System.Text.Json.Nodes, reflection-free and AOT-safe)
// rather than one record per nested ARM object: the shapes are wide, read-only and only ever written.

/// <summary>ARM ids and bodies for subscriptions, resource groups and virtual machines.</summary>
internal static class ArmResources
{
    public static string SubscriptionId(Scenario scenario) => $"/subscriptions/{scenario.SubscriptionId}";

    public static string ResourceGroupId(Scenario scenario, string group) => $"{SubscriptionId(scenario)}/resourceGroups/{group}";

    public static string VmId(Scenario scenario, VmDefinition vm) => $"{ResourceGroupId(scenario, vm.ResourceGroup)}/providers/Microsoft.Compute/virtualMachines/{vm.Name}";

    public static JsonObject Subscription(Scenario scenario) => new()
    {
        ["id"] = SubscriptionId(scenario),
        ["authorizationSource"] = "RoleBased",
        ["managedByTenants"] = new JsonArray(),
        ["subscriptionId"] = scenario.SubscriptionId,
        ["tenantId"] = scenario.TenantId,
        ["displayName"] = "Latch emulator",
        ["state"] = "Enabled",
        ["subscriptionPolicies"] = new JsonObject
        {
            ["locationPlacementId"] = "Public_2014-09-01",
            ["quotaId"] = "PayAsYouGo_2014-09-01",
            ["spendingLimit"] = "Off",
        },
    };

    public static JsonObject ResourceGroup(Scenario scenario, string name, string location) => new()
    {
        ["id"] = ResourceGroupId(scenario, name),
        ["name"] = name,
        ["type"] = "Microsoft.Resources/resourceGroups",
        ["location"] = location,
        ["properties"] = new JsonObject { ["provisioningState"] = "Succeeded" },
    };

    public static JsonObject VirtualMachine(Scenario scenario, VmDefinition vm, bool withInstanceView, DateTimeOffset now)
    {
        var id = VmId(scenario, vm);
        var diskName = $"{vm.Name}_OsDisk_1_{ShortHash(vm.VmId)}";
        var properties = new JsonObject
        {
            ["vmId"] = vm.VmId,
            ["hardwareProfile"] = new JsonObject { ["vmSize"] = vm.VmSize },
            ["storageProfile"] = new JsonObject
            {
                ["imageReference"] = new JsonObject
                {
                    ["publisher"] = "Canonical",
                    ["offer"] = "ubuntu-24_04-lts",
                    ["sku"] = "server",
                    ["version"] = "latest",
                    ["exactVersion"] = "24.04.202501140",
                },
                ["osDisk"] = new JsonObject
                {
                    ["osType"] = "Linux",
                    ["name"] = diskName,
                    ["createOption"] = "FromImage",
                    ["caching"] = "ReadWrite",
                    ["managedDisk"] = new JsonObject
                    {
                        ["storageAccountType"] = "Premium_LRS",
                        ["id"] = $"{ResourceGroupId(scenario, vm.ResourceGroup)}/providers/Microsoft.Compute/disks/{diskName}",
                    },
                    ["deleteOption"] = "Delete",
                    ["diskSizeGB"] = 30,
                },
                ["dataDisks"] = new JsonArray(),
                ["diskControllerType"] = "SCSI",
            },
            ["osProfile"] = new JsonObject
            {
                ["computerName"] = vm.ComputerName ?? vm.Name,
                ["adminUsername"] = vm.AdminUsername,
                ["linuxConfiguration"] = new JsonObject
                {
                    ["disablePasswordAuthentication"] = vm.DisablePasswordAuthentication,
                    ["ssh"] = new JsonObject
                    {
                        ["publicKeys"] = new JsonArray([.. vm.PublicKeys.Select(k => (JsonNode)new JsonObject { ["path"] = k.Path, ["keyData"] = k.KeyData })]),
                    },
                    ["provisionVMAgent"] = true,
                    ["patchSettings"] = new JsonObject { ["patchMode"] = "ImageDefault", ["assessmentMode"] = "ImageDefault" },
                },
                ["secrets"] = new JsonArray(),
                ["allowExtensionOperations"] = true,
                ["requireGuestProvisionSignal"] = true,
            },
            ["networkProfile"] = new JsonObject
            {
                ["networkInterfaces"] = new JsonArray(new JsonObject
                {
                    ["id"] = NetworkResources.NicId(scenario, vm),
                    ["properties"] = new JsonObject { ["primary"] = true, ["deleteOption"] = "Detach" },
                }),
            },
            ["provisioningState"] = "Succeeded",
            ["timeCreated"] = Timestamp(now),
        };
        if (withInstanceView)
        {
            properties["instanceView"] = InstanceView(vm, now);
        }
        var body = new JsonObject
        {
            ["name"] = vm.Name,
            ["id"] = id,
            ["type"] = "Microsoft.Compute/virtualMachines",
            ["location"] = vm.Location,
            ["tags"] = Tags(vm.Tags),
            ["identity"] = new JsonObject
            {
                ["type"] = "SystemAssigned",
                ["principalId"] = vm.PrincipalId,
                ["tenantId"] = scenario.TenantId,
            },
            ["properties"] = properties,
        };
        return body;
    }

    public static JsonObject InstanceView(VmDefinition vm, DateTimeOffset now) => new()
    {
        ["computerName"] = vm.ComputerName ?? vm.Name,
        ["osName"] = "ubuntu",
        ["osVersion"] = "24.04",
        ["vmAgent"] = new JsonObject
        {
            ["vmAgentVersion"] = "2.12.0.4",
            ["statuses"] = new JsonArray(Status("ProvisioningState/succeeded", "Ready", now, "Guest Agent is running")),
            ["extensionHandlers"] = new JsonArray(),
        },
        ["hyperVGeneration"] = "V2",
        ["statuses"] = new JsonArray(
            Status("ProvisioningState/succeeded", "Provisioning succeeded", now, null),
            Status("PowerState/running", "VM running", null, null)),
    };

    public static JsonObject Status(string code, string displayStatus, DateTimeOffset? time, string? message, string level = "Info")
    {
        var status = new JsonObject { ["code"] = code, ["level"] = level, ["displayStatus"] = displayStatus };
        if (message is not null)
        {
            status["message"] = message;
        }
        if (time is { } t)
        {
            status["time"] = Timestamp(t);
        }
        return status;
    }

    public static JsonObject List(IEnumerable<JsonNode> values) => new() { ["value"] = new JsonArray([.. values]) };

    public static JsonObject Tags(IReadOnlyDictionary<string, string> tags)
    {
        var result = new JsonObject();
        foreach (var (key, value) in tags)
        {
            result[key] = value;
        }
        return result;
    }

    public static string Timestamp(DateTimeOffset time) => time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fffffffK", CultureInfo.InvariantCulture);

    /// <summary>A stable 32-hex-digit tag derived from a name (disk suffixes, resource GUIDs): the same every run.</summary>
    public static string ShortHash(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)).AsSpan(0, 16));
}
