using System.Text.Json;

namespace Latch.Rig;

/// <summary>
/// What Azure knows about a VM (served by the emulator's IMDS, WireServer and provisioning media).
/// The VM's id and addresses come from the rig.
/// </summary>
internal sealed record VmProfile
{
    public string AdminUsername { get; init; } = "azureuser";

    /// <summary>OpenSSH public key lines for the admin user (IMDS publicKeys, ovf-env.xml).</summary>
    public IReadOnlyList<string> PublicKeys { get; init; } = [];

    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();

    /// <summary>The admin password ovf-env.xml carries (never logged); null for none.</summary>
    public string? AdminPassword { get; init; }

    /// <summary>osProfile.disablePasswordAuthentication / ovf-env DisableSshPasswordAuthentication.</summary>
    public bool DisablePasswordAuthentication { get; init; } = true;
}

/// <summary>Writes the emulator's scenario file (JSON) for the VMs of an <see cref="AzureHost"/>.</summary>
internal static class ScenarioWriter
{
    /// <summary>
    /// The scenario: the rig's subscription and tenant, one operator service principal (<see cref="AzureHost.OperatorClientId"/>
    /// with <paramref name="operatorSecret"/>), and the VMs, each with its exec prefix so ARM run-command runs inside it.
    /// </summary>
    public static byte[] Write(IReadOnlyList<Vm> vms, string operatorSecret)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("subscriptionId", AzureHost.SubscriptionId);
            json.WriteString("tenantId", AzureHost.TenantId);
            json.WriteStartArray("servicePrincipals");
            json.WriteStartObject();
            json.WriteString("clientId", AzureHost.OperatorClientId);
            json.WriteString("clientSecret", operatorSecret);
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteStartArray("vms");
            foreach (var vm in vms)
            {
                json.WriteStartObject();
                json.WriteString("name", vm.Name);
                json.WriteString("vmId", vm.VmId);
                json.WriteString("resourceGroup", AzureHost.ResourceGroup);
                json.WriteString("computerName", vm.Name);
                json.WriteString("adminUsername", vm.Profile.AdminUsername);
                json.WriteBoolean("disablePasswordAuthentication", vm.Profile.DisablePasswordAuthentication);
                if (vm.Profile.AdminPassword is { } password)
                {
                    json.WriteString("adminPassword", password);
                }

                json.WriteStartArray("publicKeys");
                foreach (var key in vm.Profile.PublicKeys)
                {
                    json.WriteStartObject();
                    json.WriteString("keyData", key);
                    json.WriteString("path", $"/home/{vm.Profile.AdminUsername}/.ssh/authorized_keys");
                    json.WriteEndObject();
                }

                json.WriteEndArray();
                json.WriteStartObject("tags");
                foreach (var (name, value) in vm.Profile.Tags)
                {
                    json.WriteString(name, value);
                }

                json.WriteEndObject();
                json.WriteString("privateIpAddress", vm.Address);
                json.WriteString("sourceAddress", vm.Address);
                json.WriteStartArray("exec");
                foreach (var arg in vm.ExecPrefix)
                {
                    json.WriteStringValue(arg);
                }

                json.WriteEndArray();
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }
}
