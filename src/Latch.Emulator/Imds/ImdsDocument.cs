using System.Text.Json.Nodes;
using Latch.Emulator.State;

namespace Latch.Emulator.Imds;

/// <summary>
/// Builds the <c>/metadata/instance</c> document for a VM the way Azure shapes it: every primitive a string,
/// missing values as "", and fields that a requested api-version predates left out. Each field appears from the
/// version the IMDS documentation's schema breakdown ("Version introduced") gives for it, also inside objects
/// (securityProfile, storageProfile), so an old client sees the schema it was written for.
/// </summary>
internal static class ImdsDocument
{
    /// <summary>Versions IMDS accepts, oldest first (the public documentation's list).</summary>
    public static readonly IReadOnlyList<string> SupportedVersions =
    [
        "2017-03-01", "2017-04-02", "2017-08-01", "2017-10-01", "2017-12-01", "2018-02-01", "2018-04-02", "2018-10-01",
        "2019-02-01", "2019-03-11", "2019-04-30", "2019-06-01", "2019-06-04", "2019-08-01", "2019-08-15", "2019-11-01",
        "2020-06-01", "2020-07-15", "2020-09-01", "2020-10-01", "2020-12-01", "2021-01-01", "2021-02-01", "2021-03-01",
        "2021-05-01", "2021-08-01", "2021-10-01", "2021-11-01", "2021-11-15", "2021-12-13", "2023-07-01", "2023-11-15",
        "2024-03-15", "2024-07-17", "2025-04-07",
    ];

    // The marketplace image every emulated VM runs (the rig's rootfs is Debian 12).
    public const string ImagePublisher = "Debian";
    public const string ImageOffer = "debian-12";
    public const string ImageSku = "12-gen2";
    public const string ImageVersion = "latest";

    public static IReadOnlyList<string> NewestVersions => [.. SupportedVersions.Reverse().Take(3)];

    public static JsonObject Build(VmState vm, string subscriptionId, string apiVersion, bool extended)
    {
        var d = vm.Definition;
        bool Since(string version) => string.CompareOrdinal(apiVersion, version) >= 0;

        var compute = new JsonObject();
        void Add(string since, string name, JsonNode? value)
        {
            if (Since(since))
            {
                compute[name] = value;
            }
        }

        Add("2021-11-01", "additionalCapabilities", new JsonObject { ["hibernationEnabled"] = "false" });
        Add("2018-10-01", "azEnvironment", "AzurePublicCloud");
        Add("2019-02-01", "customData", "");   // IMDS never serves custom data (it is on the provisioning media)
        Add("2020-12-01", "evictionPolicy", "");
        Add("2021-03-01", "extendedLocation", new JsonObject { ["name"] = "", ["type"] = "" });
        Add("2021-11-15", "host", new JsonObject { ["id"] = "" });
        Add("2021-11-15", "hostGroup", new JsonObject { ["id"] = "" });
        Add("2020-06-01", "isHostCompatibilityLayerVm", "false");
        Add("2020-09-01", "licenseType", "");
        Add("2017-04-02", "location", d.Location);
        Add("2017-04-02", "name", d.Name);
        Add("2017-04-02", "offer", ImageOffer);
        if (Since("2020-07-15"))
        {
            var profile = new JsonObject { ["adminUsername"] = d.AdminUsername, ["computerName"] = vm.ComputerName };
            if (Since("2020-10-01"))
            {
                profile["disablePasswordAuthentication"] = d.DisablePasswordAuthentication ? "true" : "false";
            }

            compute["osProfile"] = profile;
        }

        Add("2017-04-02", "osType", "Linux");
        Add("2023-11-15", "physicalZone", "");
        Add("2017-08-01", "placementGroupId", "");
        Add("2018-04-02", "plan", new JsonObject { ["name"] = "", ["product"] = "", ["publisher"] = "" });
        Add("2017-04-02", "platformFaultDomain", "0");
        Add("2021-10-01", "platformSubFaultDomain", "");
        Add("2017-04-02", "platformUpdateDomain", "0");
        Add("2020-12-01", "priority", "");
        Add("2018-10-01", "provider", "Microsoft.Compute");
        Add("2018-04-02", "publicKeys", new JsonArray([.. vm.PublicKeys.Select(k => (JsonNode)new JsonObject { ["keyData"] = k.KeyData, ["path"] = k.Path })]));
        Add("2017-04-02", "publisher", ImagePublisher);
        Add("2017-08-01", "resourceGroupName", d.ResourceGroup);
        Add("2019-03-11", "resourceId", $"/subscriptions/{subscriptionId}/resourceGroups/{d.ResourceGroup}/providers/Microsoft.Compute/virtualMachines/{d.Name}");
        if (Since("2020-06-01"))
        {
            var security = new JsonObject { ["secureBootEnabled"] = "false", ["virtualTpmEnabled"] = "false" };
            if (Since("2021-11-01"))
            {
                security["encryptionAtHost"] = "false";
            }

            if (Since("2021-12-13"))
            {
                security["securityType"] = "";
            }

            compute["securityProfile"] = security;
        }
        Add("2017-04-02", "sku", ImageSku);
        Add("2019-06-01", "storageProfile", StorageProfile(d, subscriptionId, Since));
        Add("2017-08-01", "subscriptionId", subscriptionId);
        Add("2017-08-01", "tags", string.Join(';', d.Tags.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => $"{t.Key}:{t.Value}")));
        Add("2019-06-04", "tagsList", new JsonArray([.. d.Tags.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => (JsonNode)new JsonObject { ["name"] = t.Key, ["value"] = t.Value })]));
        Add("2021-01-01", "userData", d.UserData ?? "");
        Add("2017-04-02", "version", ImageVersion);
        Add("2021-03-01", "virtualMachineScaleSet", new JsonObject { ["id"] = "" });
        Add("2017-04-02", "vmId", d.VmId);
        Add("2017-12-01", "vmScaleSetName", "");
        Add("2017-04-02", "vmSize", d.VmSize);
        Add("2017-12-01", "zone", "");

        var network = new JsonObject
        {
            ["interface"] = new JsonArray(new JsonObject
            {
                ["ipv4"] = new JsonObject
                {
                    ["ipAddress"] = new JsonArray(new JsonObject { ["privateIpAddress"] = d.PrivateIpAddress, ["publicIpAddress"] = d.PublicIpAddress ?? "" }),
                    ["subnet"] = new JsonArray(new JsonObject { ["address"] = SubnetOf(d.PrivateIpAddress), ["prefix"] = "30" }),
                },
                ["ipv6"] = new JsonObject { ["ipAddress"] = new JsonArray() },
                ["macAddress"] = vm.MacAddress,
            }),
        };

        var document = new JsonObject { ["compute"] = compute, ["network"] = network };
        if (extended)
        {
            document["extended"] = new JsonObject
            {
                ["compute"] = new JsonObject { ["hasCustomData"] = d.CustomData is { Length: > 0 }, ["ppsType"] = "None" },
            };
        }

        return document;
    }

    private static JsonObject StorageProfile(VmDefinition d, string subscriptionId, Func<string, bool> since)
    {
        var image = new JsonObject
        {
            ["id"] = "", ["offer"] = ImageOffer, ["publisher"] = ImagePublisher, ["sku"] = ImageSku, ["version"] = ImageVersion,
        };
        if (since("2023-07-01"))
        {
            image["communityGalleryImageId"] = "";
            image["sharedGalleryImageId"] = "";
            image["exactVersion"] = "";
        }

        var diskName = d.Name + "_OsDisk_1";
        var profile = new JsonObject
        {
            ["dataDisks"] = new JsonArray(),
            ["imageReference"] = image,
            ["osDisk"] = new JsonObject
            {
                ["caching"] = "ReadWrite",
                ["createOption"] = "FromImage",
                ["diffDiskSettings"] = new JsonObject { ["option"] = "" },
                ["diskSizeGB"] = "30",
                ["encryptionSettings"] = new JsonObject { ["enabled"] = "false" },
                ["image"] = new JsonObject { ["uri"] = "" },
                ["managedDisk"] = new JsonObject
                {
                    ["id"] = $"/subscriptions/{subscriptionId}/resourceGroups/{d.ResourceGroup}/providers/Microsoft.Compute/disks/{diskName}",
                    ["storageAccountType"] = "Premium_LRS",
                },
                ["name"] = diskName,
                ["osType"] = "Linux",
                ["vhd"] = new JsonObject { ["uri"] = "" },
                ["writeAcceleratorEnabled"] = "false",
            },
        };
        if (since("2021-02-01"))
        {
            // the emulated VMs have no local temp disk (the rig formats none); IMDS then says 0
            profile["resourceDisk"] = new JsonObject { ["size"] = "0" };
        }

        return profile;
    }

    private static string SubnetOf(string address)
    {
        if (System.Net.IPAddress.TryParse(address, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
        {
            var bytes = ip.GetAddressBytes();
            bytes[3] &= 0xFC;
            return new System.Net.IPAddress(bytes).ToString();
        }

        return "";
    }
}
