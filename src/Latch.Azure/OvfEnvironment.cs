using System.Xml.Linq;
using Latch.Azure.Xml;

namespace Latch.Azure;

/// <summary>One <c>SSH/PublicKeys/PublicKey</c>: <paramref name="Path"/> is raw (a leading <c>$HOME</c> is the caller's to expand).</summary>
public sealed record OvfPublicKey(string? Fingerprint, string? Path, string? Value);

/// <summary>One <c>SSH/KeyPairs/KeyPair</c>: a private key the fabric places by certificate fingerprint.</summary>
public sealed record OvfKeyPair(string? Fingerprint, string? Path);

/// <summary>
/// The provisioning data of ovf-env.xml (the <c>LinuxProvisioningConfigurationSet</c> and platform settings).
/// Parse with <see cref="Parse(Stream)"/>: DTDs refused, 1 MiB limit, UTF-8 BOM stripped.
/// </summary>
public sealed record OvfEnvironment(
    string HostName,
    string UserName,
    Secret? UserPassword,
    bool DisableSshPasswordAuthentication,
    IReadOnlyList<OvfPublicKey> PublicKeys,
    IReadOnlyList<OvfKeyPair> KeyPairs,
    string? CustomData,
    bool? ProvisionGuestAgent,
    bool PreprovisionedVm,
    string? PreprovisionedVmType)
{
    public const int MaxBytes = 1024 * 1024;

    public static readonly XNamespace OvfNamespace = "http://schemas.dmtf.org/ovf/environment/1";
    public static readonly XNamespace WaNamespace = "http://schemas.microsoft.com/windowsazure";

    private const string Doc = "ovf-env.xml";

    public static OvfEnvironment Parse(Stream stream) => Parse(SafeXml.ReadBounded(stream, Doc, MaxBytes));

    public static OvfEnvironment Parse(ReadOnlySpan<byte> bytes)
    {
        var root = SafeXml.Load(bytes, Doc, MaxBytes).Root!;
        if (root.Name != OvfNamespace + "Environment")
        {
            throw new AzureFormatException($"{Doc}: root element is <{root.Name}>, expected <Environment> in namespace {OvfNamespace}.");
        }

        var section = root.Element(WaNamespace + "ProvisioningSection")
            ?? throw Missing("wa:ProvisioningSection", "the <Environment> root");
        var config = section.Element(WaNamespace + "LinuxProvisioningConfigurationSet")
            ?? throw Missing("LinuxProvisioningConfigurationSet", "wa:ProvisioningSection");

        var hostName = Text(config, "HostName") ?? throw Missing("HostName", "LinuxProvisioningConfigurationSet");
        var userName = Text(config, "UserName") ?? throw Missing("UserName", "LinuxProvisioningConfigurationSet");
        var password = config.Element(WaNamespace + "UserPassword")?.Value is { Length: > 0 } pw ? new Secret(pw) : null;
        // waagent: anything but "true" means password authentication stays allowed
        var disablePasswordAuth = string.Equals(Text(config, "DisableSshPasswordAuthentication"), "true", StringComparison.OrdinalIgnoreCase);

        var ssh = config.Element(WaNamespace + "SSH");
        var publicKeys = new List<OvfPublicKey>();
        var keyPairs = new List<OvfKeyPair>();
        if (ssh is not null)
        {
            var index = 0;
            foreach (var key in ssh.Element(WaNamespace + "PublicKeys")?.Elements(WaNamespace + "PublicKey") ?? [])
            {
                var entry = new OvfPublicKey(Text(key, "Fingerprint"), Text(key, "Path"), Text(key, "Value"));
                if (entry.Value is null && entry.Fingerprint is null)
                {
                    throw new AzureFormatException($"{Doc}: SSH/PublicKeys/PublicKey #{index + 1} has neither <Value> nor <Fingerprint>.");
                }

                publicKeys.Add(entry);
                index++;
            }

            foreach (var pair in ssh.Element(WaNamespace + "KeyPairs")?.Elements(WaNamespace + "KeyPair") ?? [])
            {
                keyPairs.Add(new OvfKeyPair(Text(pair, "Fingerprint"), Text(pair, "Path")));
            }
        }

        var customData = Text(config, "CustomData");

        var platform = root.Element(WaNamespace + "PlatformSettingsSection")?.Element(WaNamespace + "PlatformSettings");
        bool? provisionGuestAgent = platform?.Element(WaNamespace + "ProvisionGuestAgent") is { } pga
            ? string.Equals(pga.Value.Trim(), "true", StringComparison.OrdinalIgnoreCase)
            : null;
        var preprovisioned = string.Equals(platform is null ? null : Text(platform, "PreprovisionedVm"), "true", StringComparison.OrdinalIgnoreCase);
        var preprovisionedType = platform is null ? null : Text(platform, "PreprovisionedVMType") ?? Text(platform, "PreprovisionedVmType");

        return new OvfEnvironment(hostName, userName, password, disablePasswordAuth, publicKeys, keyPairs, customData, provisionGuestAgent, preprovisioned, preprovisionedType);
    }

    /// <summary>
    /// <see cref="CustomData"/> decoded from base64 (null when absent). It is kept raw in the record because waagent's
    /// own fixtures carry non-base64 text there; decoding is the consumer's decision.
    /// </summary>
    public byte[]? DecodeCustomData()
    {
        if (CustomData is null)
        {
            return null;
        }

        try
        {
            return Convert.FromBase64String(CustomData);
        }
        catch (FormatException e)
        {
            throw new AzureFormatException($"{Doc}: <CustomData> is not valid base64 ({CustomData.Length} characters).", e);
        }
    }

    // custom data may carry the user's secrets: print only its size
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"HostName = {HostName}, UserName = {UserName}, UserPassword = {(UserPassword is null ? "null" : "***")}, ")
            .Append($"DisableSshPasswordAuthentication = {DisableSshPasswordAuthentication}, PublicKeys = {PublicKeys.Count}, KeyPairs = {KeyPairs.Count}, ")
            .Append($"CustomData = {(CustomData is null ? "null" : CustomData.Length + " chars")}, ProvisionGuestAgent = {ProvisionGuestAgent?.ToString() ?? "null"}, ")
            .Append($"PreprovisionedVm = {PreprovisionedVm}, PreprovisionedVmType = {PreprovisionedVmType ?? "null"}");
        return true;
    }

    private static string? Text(XElement parent, string localName) =>
        parent.Element(WaNamespace + localName)?.Value.Trim() is { Length: > 0 } text ? text : null;

    private static AzureFormatException Missing(string element, string parent) =>
        new($"{Doc}: <{element}> is missing or empty under {parent}; the provisioning media is incomplete or not an Azure ovf-env.xml.");
}
