using System.Security.Cryptography;
using System.Text;
using System.Xml;
using Latch.Emulator.State;

namespace Latch.Emulator.Media;

/// <summary>
/// Writes ovf-env.xml, the provisioning document Azure puts on the VM's DVD: the OVF environment namespace at the
/// root, the Windows Azure namespace for the provisioning and platform sections.
/// </summary>
internal static class OvfEnvironment
{
    public const string OvfNamespace = "http://schemas.dmtf.org/ovf/environment/1";
    public const string WaNamespace = "http://schemas.microsoft.com/windowsazure";
    private const string XsiNamespace = "http://www.w3.org/2001/XMLSchema-instance";

    public static string Build(VmState vm)
    {
        var d = vm.Definition;
        var builder = new StringBuilder();
        var settings = new XmlWriterSettings { Encoding = new UTF8Encoding(false), Indent = true, OmitXmlDeclaration = true };
        using (var w = XmlWriter.Create(builder, settings))
        {
            w.WriteStartElement("Environment", OvfNamespace);
            w.WriteAttributeString("xmlns", "oe", null, OvfNamespace);
            w.WriteAttributeString("xmlns", "wa", null, WaNamespace);
            w.WriteAttributeString("xmlns", "xsi", null, XsiNamespace);

            w.WriteStartElement("wa", "ProvisioningSection", WaNamespace);
            w.WriteElementString("wa", "Version", WaNamespace, "1.0");
            w.WriteStartElement("LinuxProvisioningConfigurationSet", WaNamespace);
            w.WriteAttributeString("xmlns", "i", null, XsiNamespace);
            w.WriteElementString("ConfigurationSetType", WaNamespace, "LinuxProvisioningConfiguration");
            w.WriteElementString("HostName", WaNamespace, vm.ComputerName);
            w.WriteElementString("UserName", WaNamespace, d.AdminUsername);
            if (d.AdminPassword is { } password)
            {
                w.WriteElementString("UserPassword", WaNamespace, password);
            }

            w.WriteElementString("DisableSshPasswordAuthentication", WaNamespace, d.DisablePasswordAuthentication ? "true" : "false");
            w.WriteStartElement("SSH", WaNamespace);
            w.WriteStartElement("PublicKeys", WaNamespace);
            foreach (var key in vm.PublicKeys)
            {
                w.WriteStartElement("PublicKey", WaNamespace);
                w.WriteElementString("Fingerprint", WaNamespace, Fingerprint(key.KeyData));
                w.WriteElementString("Path", WaNamespace, key.Path);
                w.WriteElementString("Value", WaNamespace, key.KeyData.TrimEnd('\n', '\r'));
                w.WriteEndElement();
            }

            w.WriteEndElement();
            w.WriteStartElement("KeyPairs", WaNamespace);
            foreach (var pair in d.KeyPairs)
            {
                w.WriteStartElement("KeyPair", WaNamespace);
                w.WriteElementString("Fingerprint", WaNamespace, pair.Fingerprint);
                w.WriteElementString("Path", WaNamespace, pair.Path);
                w.WriteEndElement();
            }

            w.WriteEndElement();
            w.WriteEndElement();
            if (d.CustomData is { Length: > 0 } customData)
            {
                w.WriteElementString("CustomData", WaNamespace, customData);
            }

            w.WriteEndElement();
            w.WriteEndElement();

            w.WriteStartElement("wa", "PlatformSettingsSection", WaNamespace);
            w.WriteElementString("wa", "Version", WaNamespace, "1.0");
            w.WriteStartElement("wa", "PlatformSettings", WaNamespace);
            w.WriteElementString("wa", "KmsServerHostname", WaNamespace, "kms.core.windows.net");
            w.WriteElementString("wa", "ProvisionGuestAgent", WaNamespace, "true");
            w.WriteStartElement("wa", "GuestAgentPackageName", WaNamespace);
            w.WriteAttributeString("xsi", "nil", XsiNamespace, "true");
            w.WriteEndElement();
            w.WriteElementString("wa", "RetainWindowsPEPassInUnattend", WaNamespace, "true");
            w.WriteElementString("wa", "RetainOfflineServicingPassInUnattend", WaNamespace, "true");
            w.WriteElementString("wa", "PreprovisionedVm", WaNamespace, "false");
            w.WriteElementString("wa", "PreprovisionedVmType", WaNamespace, "None");
            w.WriteEndElement();
            w.WriteEndElement();
            w.WriteEndElement();
        }

        return "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n" + builder.ToString() + "\n";
    }

    /// <summary>A certificate-style thumbprint for the key (SHA-1 of the key blob, upper-case hex), as ovf-env.xml carries.</summary>
    internal static string Fingerprint(string keyData)
    {
        var parts = keyData.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var blob = parts.Length > 1 ? parts[1] : keyData;
        var bytes = new byte[blob.Length];
        var data = Convert.TryFromBase64String(blob, bytes, out var written) ? bytes.AsSpan(0, written).ToArray() : Encoding.UTF8.GetBytes(blob);
#pragma warning disable CA5350 // SHA-1 is the thumbprint format ovf-env.xml uses; nothing is secured by it
        return Convert.ToHexString(SHA1.HashData(data));
#pragma warning restore CA5350
    }
}
