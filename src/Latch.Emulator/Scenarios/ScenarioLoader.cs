using System.Net;
using Latch.Core;

namespace Latch.Emulator.Scenarios;

/// <summary>A scenario file that cannot be used; the message names the file, the key and (TOML) the line.</summary>
public sealed class ScenarioException : LatchException
{
    public ScenarioException() { }

    public ScenarioException(string message) : base(message) { }

    public ScenarioException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>
/// Loads a <see cref="Scenario"/> from TOML (<c>.toml</c>) or JSON (<c>.json</c>). Keys are snake_case
/// (JSON may also use camelCase). Unknown keys are errors, so a typo never silently becomes a default.
/// </summary>
public static class ScenarioLoader
{
    public static async Task<Scenario> LoadFileAsync(string path, CancellationToken cancellationToken = default)
    {
        string text;
        try
        {
            text = await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ScenarioException($"cannot read scenario file '{path}': {e.Message}", e);
        }

        var json = path.EndsWith(".json", StringComparison.OrdinalIgnoreCase);
        return json ? FromJson(text, path) : FromToml(text, path);
    }

    public static Scenario FromToml(string text, string sourceName = "scenario.toml") => Map(ScenarioNode.FromToml(text, sourceName), sourceName);

    public static Scenario FromJson(string text, string sourceName = "scenario.json") => Map(ScenarioNode.FromJson(text, sourceName), sourceName);

    private static Scenario Map(ScenarioNode root, string source)
    {
        var reader = new TableReader(root, source);
        var defaults = new Scenario();
        var scenario = new Scenario
        {
            SubscriptionId = reader.Guid("subscription_id") ?? defaults.SubscriptionId,
            TenantId = reader.Guid("tenant_id") ?? defaults.TenantId,
            Vms = reader.Tables("vms").Select(t => MapVm(t)).ToArray(),
            Vaults = reader.Tables("vaults").Select(t => MapVault(t)).ToArray(),
            ServicePrincipals = reader.Tables("service_principals").Select(t => MapServicePrincipal(t)).ToArray(),
        };
        reader.RejectUnknown();

        Unique(scenario.Vms.Select(v => v.Name), "VM name", source);
        Unique(scenario.Vaults.Select(v => v.Name), "vault name", source);
        Unique(scenario.ServicePrincipals.Select(p => p.ClientId), "service principal client_id", source);
        return scenario;
    }

    private static VmDefinition MapVm(TableReader t)
    {
        var defaults = new VmDefinition { Name = "x" };
        var name = t.RequiredString("name", ValidateResourceName);
        var vm = new VmDefinition
        {
            Name = name,
            ResourceGroup = t.String("resource_group", ValidateResourceName) ?? defaults.ResourceGroup,
            Location = t.String("location") ?? defaults.Location,
            VmId = t.Guid("vm_id") ?? StableGuid("vm:" + name),
            VmSize = t.String("vm_size") ?? defaults.VmSize,
            AdminUsername = t.String("admin_username", ValidateUserName) ?? defaults.AdminUsername,
            ComputerName = t.String("computer_name"),
            DisablePasswordAuthentication = t.Bool("disable_password_authentication") ?? defaults.DisablePasswordAuthentication,
            AdminPassword = t.String("admin_password"),
            PublicKeys = t.Tables("public_keys").Select(k => MapKey(k)).ToArray(),
            KeyPairs = t.Tables("key_pairs").Select(k => MapKeyPair(k)).ToArray(),
            Tags = t.StringMap("tags"),
            CustomData = t.String("custom_data", ValidateBase64),
            UserData = t.String("user_data", ValidateBase64),
            PrivateIpAddress = t.String("private_ip_address", ValidateIp) ?? defaults.PrivateIpAddress,
            PublicIpAddress = t.String("public_ip_address", ValidateIp),
            PrincipalId = t.Guid("principal_id") ?? StableGuid("principal:" + name),
            Exec = t.StringList("exec"),
            AuthorizedKeysHostPath = t.String("authorized_keys_host_path"),
            SourceAddress = t.String("source_address", ValidateIp),
            MacAddress = t.String("mac_address", ValidateMac),
            SecurityRules = t.Has("security_rules") ? t.Tables("security_rules").Select(r => MapSecurityRule(r)).ToArray() : null,
        };
        t.RejectUnknown();
        return vm with { PublicKeys = [.. vm.PublicKeys.Select(k => k.Path.Length == 0 ? k with { Path = $"/home/{vm.AdminUsername}/.ssh/authorized_keys" } : k)] };
    }

    private static SecurityRuleDefinition MapSecurityRule(TableReader t)
    {
        var defaults = new SecurityRuleDefinition { Name = "x" };
        var rule = new SecurityRuleDefinition
        {
            Name = t.RequiredString("name", ValidateResourceName),
            Priority = t.Integer("priority", 100, 4096) ?? defaults.Priority,
            Direction = t.String("direction", v => v is "Inbound" or "Outbound" ? null : "Inbound or Outbound") ?? defaults.Direction,
            Access = t.String("access", v => v is "Allow" or "Deny" ? null : "Allow or Deny") ?? defaults.Access,
            Protocol = t.String("protocol", v => v is "Tcp" or "Udp" or "Icmp" or "*" ? null : "Tcp, Udp, Icmp or *") ?? defaults.Protocol,
            SourceAddressPrefix = t.String("source_address_prefix") ?? defaults.SourceAddressPrefix,
            SourcePortRange = t.String("source_port_range") ?? defaults.SourcePortRange,
            DestinationAddressPrefix = t.String("destination_address_prefix") ?? defaults.DestinationAddressPrefix,
            DestinationPortRange = t.String("destination_port_range") ?? defaults.DestinationPortRange,
        };
        t.RejectUnknown();
        return rule;
    }

    private static ServicePrincipalDefinition MapServicePrincipal(TableReader t)
    {
        var principal = new ServicePrincipalDefinition
        {
            ClientId = t.RequiredString("client_id"),
            ClientSecret = t.RequiredString("client_secret"),
            PrincipalId = t.Guid("principal_id"),
        };
        t.RejectUnknown();
        return principal;
    }

    private static VmKeyPair MapKeyPair(TableReader t)
    {
        var pair = new VmKeyPair(
            t.RequiredString("fingerprint", v => v.Length == 40 && v.All(char.IsAsciiHexDigit) ? null : "the certificate's SHA-1 thumbprint: 40 hex digits").ToUpperInvariant(),
            t.RequiredString("path", v => v.StartsWith('/') ? null : "an absolute path in the VM (/home/azureuser/.ssh/id_rsa)"));
        t.RejectUnknown();
        return pair;
    }

    private static VmPublicKey MapKey(TableReader t)
    {
        var key = new VmPublicKey(t.RequiredString("key_data", ValidatePublicKey), t.String("path") ?? "");
        t.RejectUnknown();
        return key;
    }

    private static VaultDefinition MapVault(TableReader t)
    {
        var defaults = new VaultDefinition { Name = "x" };
        var vault = new VaultDefinition
        {
            Name = t.RequiredString("name", ValidateVaultName),
            ResourceGroup = t.String("resource_group", ValidateResourceName) ?? defaults.ResourceGroup,
            AllowedPrincipals = t.StringList("allowed_principals"),
            Secrets = t.Tables("secrets").Select(s => MapSecret(s)).ToArray(),
        };
        t.RejectUnknown();
        Unique(vault.Secrets.Select(s => s.Name), $"secret name in vault '{vault.Name}'", t.Source);
        return vault;
    }

    private static SecretDefinition MapSecret(TableReader t)
    {
        var secret = new SecretDefinition
        {
            Name = t.RequiredString("name", ValidateSecretName),
            Value = t.RequiredString("value"),
            ContentType = t.String("content_type"),
            Enabled = t.Bool("enabled") ?? true,
            Expires = t.Date("expires"),
            NotBefore = t.Date("not_before"),
            Tags = t.StringMap("tags"),
        };
        t.RejectUnknown();
        return secret;
    }

    private static void Unique(IEnumerable<string> names, string what, string source)
    {
        var duplicate = names.GroupBy(n => n, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ScenarioException($"{source}: the {what} '{duplicate.Key}' is used twice; names must be unique (case-insensitively).");
        }
    }

    /// <summary>A GUID derived from a name, so a scenario without explicit ids is the same on every run.</summary>
    internal static string StableGuid(string seed)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(seed));
        var bytes = hash.AsSpan(0, 16).ToArray();
        bytes[7] = (byte)((bytes[7] & 0x0F) | 0x40); // version 4 layout (Guid's byte order puts the version in byte 7)
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes).ToString();
    }

    private static string? ValidateResourceName(string v) =>
        v.Length is > 0 and <= 64 && v.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')
            ? null : "use 1-64 letters, digits, '-', '_' or '.'";

    private static string? ValidateVaultName(string v) =>
        v.Length is >= 3 and <= 24 && char.IsAsciiLetter(v[0]) && v.All(c => char.IsAsciiLetterOrDigit(c) || c == '-') && !v.Contains("--", StringComparison.Ordinal)
            ? null : "a vault name has 3-24 letters, digits and single dashes, starting with a letter";

    private static string? ValidateSecretName(string v) =>
        v.Length is >= 1 and <= 127 && v.All(c => char.IsAsciiLetterOrDigit(c) || c == '-')
            ? null : "a secret name has 1-127 letters, digits and dashes";

    private static string? ValidateUserName(string v) =>
        v.Length is > 0 and <= 32 && (char.IsAsciiLetterLower(v[0]) || v[0] == '_') && v.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_')
            ? null : "a Linux user name: lower-case letters, digits, '-' and '_', starting with a letter";

    private static string? ValidateIp(string v) => IPAddress.TryParse(v, out _) ? null : "an IP address such as 169.254.1.2";

    private static string? ValidateMac(string v) =>
        v.Length == 12 && v.All(char.IsAsciiHexDigit) ? null : "12 hex digits without separators, as IMDS prints it (000D3A123456)";

    private static string? ValidateBase64(string v)
    {
        var buffer = new byte[v.Length];
        return Convert.TryFromBase64String(v, buffer, out _) ? null : "base64 text";
    }

    private static string? ValidatePublicKey(string v)
    {
        var parts = v.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 2 || !(parts[0].StartsWith("ssh-", StringComparison.Ordinal) || parts[0].StartsWith("ecdsa-", StringComparison.Ordinal) || parts[0].StartsWith("sk-", StringComparison.Ordinal)))
        {
            return "an OpenSSH public key line: 'ssh-ed25519 AAAA... comment'";
        }

        if (v.Contains('\'', StringComparison.Ordinal) || v.Trim().Contains('\n', StringComparison.Ordinal))
        {
            return "one line without quotes";
        }

        return ValidateBase64(parts[1]) is null ? null : "the key's second field must be base64";
    }
}
