using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Latch.Emulator.Imds;
using Latch.Emulator.State;
using Latch.Emulator.WireServer;

namespace Latch.Emulator.HostGaPlugin;

/// <summary>
/// The HostGAPlugin's <c>GET /vmSettings</c> document (Fast Track): the extensions goal state as JSON. The emulated VMs
/// have no extensions, so it repeats what the WireServer's ExtensionsConfig says for the same goal state (ids, creation
/// time, status blob, no GA families, no extensions): waagent compares the two and reports any difference as a mismatch.
/// </summary>
internal static class VmSettingsDocument
{
    /// <summary>The plugin version it reports; waagent 2.7.3 disables Fast Track below 1.0.8.115.</summary>
    public const string HostGaPluginVersion = "1.0.8.143";

    public const string SchemaVersion = "0.0";

    public static JsonObject Build(VmState vm, int incarnation, DateTimeOffset createdAt, string subscriptionId, string wireServerBaseUri)
    {
        var d = vm.Definition;
        return new JsonObject
        {
            ["hostGAPluginVersion"] = HostGaPluginVersion,
            ["vmSettingsSchemaVersion"] = SchemaVersion,
            ["activityId"] = WireDocuments.ActivityId(vm, incarnation),
            ["correlationId"] = WireDocuments.CorrelationId(vm, incarnation),
            ["inSvdSeqNo"] = incarnation,
            ["extensionsLastModifiedTickCount"] = createdAt.UtcTicks,
            // the goal state came from the fabric (it is also in ExtensionsConfig), not from a Fast Track-only change
            ["extensionGoalStatesSource"] = "Fabric",
            ["statusUploadBlob"] = new JsonObject
            {
                ["statusBlobType"] = "BlockBlob",
                ["value"] = WireDocuments.StatusBlobUri(vm, wireServerBaseUri),
            },
            ["inVMMetadata"] = new JsonObject
            {
                ["subscriptionId"] = subscriptionId,
                ["resourceGroupName"] = d.ResourceGroup,
                ["vmName"] = d.Name,
                ["location"] = d.Location,
                ["vmId"] = d.VmId,
                ["vmSize"] = d.VmSize,
                ["osType"] = "Linux",
                ["vmImage"] = new JsonObject
                {
                    ["publisher"] = ImdsDocument.ImagePublisher,
                    ["offer"] = ImdsDocument.ImageOffer,
                    ["sku"] = ImdsDocument.ImageSku,
                    ["version"] = ImdsDocument.ImageVersion,
                },
            },
            ["gaFamilies"] = new JsonArray(),
            ["extensionGoalStates"] = new JsonArray(),
        };
    }

    /// <summary>
    /// The ETag of a goal state's vmSettings: a decimal number, as the HostGAPlugin sends it, stable for one goal state
    /// and new for the next (waagent sends it back in If-None-Match and gets 304 while nothing changed).
    /// </summary>
    public static string ETag(VmState vm, int incarnation, DateTimeOffset createdAt)
    {
        var seed = string.Create(CultureInfo.InvariantCulture, $"vmSettings:{vm.ContainerId}:{incarnation}:{createdAt.UtcTicks}");
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(seed));
        return (BinaryPrimitives.ReadUInt64BigEndian(hash) >> 1).ToString(CultureInfo.InvariantCulture);
    }
}
