using System.Globalization;

namespace Latch.Agent.Config;

/// <summary>What the SSH host key step does: <c>Provisioning.SshHostKeyPairType</c>.</summary>
internal enum HostKeyType
{
    Rsa,
    Ecdsa,
    Ed25519,

    /// <summary>Every default type (ssh-keygen -A); the ed25519 key is reported.</summary>
    Auto,
}

/// <summary>
/// latchd's settings, from /etc/latch/latchd.toml or (when that is absent) the keys it understands in
/// /etc/waagent.conf. Keys keep waagent's names so a waagent.conf moves over unchanged; see <see cref="Keys"/>.
/// </summary>
internal sealed record AgentConfig
{
    /// <summary>Provisioning.Agent: auto, waagent or latch provision at start; disabled or cloud-init only report Ready.</summary>
    public string ProvisioningAgent { get; init; } = "auto";

    public bool RegenerateSshHostKeyPair { get; init; }

    public HostKeyType SshHostKeyPairType { get; init; } = HostKeyType.Rsa;

    public bool DeleteRootPassword { get; init; }

    public int PasswordCryptSaltLength { get; init; } = 10;

    public bool MonitorHostName { get; init; }

    public string HomeDirectory { get; init; } = "/home";

    public string SudoersDirectory { get; init; } = "/etc/sudoers.d";

    public string SshDirectory { get; init; } = "/etc/ssh";

    public string MediaMountPoint { get; init; } = "/mnt/cdrom/secure";

    public string? HttpProxyHost { get; init; }

    public int? HttpProxyPort { get; init; }

    public bool ResourceDiskFormat { get; init; }

    /// <summary>Latch.OvfEnvPath: read ovf-env.xml from this file instead of the provisioning media.</summary>
    public string? OvfEnvPath { get; init; }

    /// <summary>Latch.UseImds: take the user, host name and keys from IMDS too (IMDS is always asked for the VM id).</summary>
    public bool UseImds { get; init; } = true;

    /// <summary>Latch.UseMedia: look for the provisioning DVD when no OvfEnvPath is set.</summary>
    public bool UseMedia { get; init; } = true;

    public Uri? ImdsUrl { get; init; }

    public Uri? WireServerUrl { get; init; }

    public string StateDirectory { get; init; } = "/var/lib/latch";

    /// <summary>guard.store_dir: the key guard's store, where provisioning records the keys it installed (source provisioning).</summary>
    public string KeyStoreDirectory { get; init; } = KeyStore.KeyStoreFiles.DefaultDirectory;

    /// <summary>Latch.ReportDeadlineSeconds: how long the WireServer calls (goal state, health) may retry.</summary>
    public int ReportDeadlineSeconds { get; init; } = 600;

    /// <summary>The file the settings came from, or null for the built-in defaults.</summary>
    public string? Source { get; init; }

    /// <summary>waagent.conf keys latchd read but does not act on (logged once).</summary>
    public IReadOnlyList<string> Ignored { get; init; } = [];

    /// <summary>Every key latchd understands, in either file.</summary>
    public static readonly IReadOnlyList<string> Keys =
    [
        "Provisioning.Agent", "Provisioning.Enabled", "Provisioning.RegenerateSshHostKeyPair", "Provisioning.SshHostKeyPairType",
        "Provisioning.DeleteRootPassword", "Provisioning.PasswordCryptSaltLength", "Provisioning.PasswordCryptId",
        "Provisioning.MonitorHostName", "OS.HomeDir", "OS.SudoersDir", "OS.SshDir", "DVD.MountPoint",
        "HttpProxy.Host", "HttpProxy.Port", "ResourceDisk.Format",
        "Latch.OvfEnvPath", "Latch.UseImds", "Latch.UseMedia", "Latch.ImdsUrl", "Latch.WireServerUrl", "Latch.StateDir",
        "Latch.ReportDeadlineSeconds",
    ];

    /// <summary>
    /// Builds the settings from parsed entries. In latchd.toml (<paramref name="strict"/>) an unknown key is an error, so
    /// a typo never silently becomes a default; in waagent.conf it is collected in <see cref="Ignored"/>.
    /// </summary>
    public static AgentConfig From(IReadOnlyList<ConfigEntry> entries, string source, bool strict)
    {
        var config = new AgentConfig { Source = source };
        var ignored = new List<string>();
        foreach (var entry in entries)
        {
            config = Apply(config, entry, source, strict, ignored);
        }

        return config with { Ignored = ignored };
    }

    private static AgentConfig Apply(AgentConfig c, ConfigEntry e, string source, bool strict, List<string> ignored)
    {
        string Where() => $"{source}:{e.Line.ToString(CultureInfo.InvariantCulture)}: {e.Key}";
        bool Bool() => e.Value.ToLowerInvariant() switch
        {
            "y" or "yes" or "true" => true,
            "n" or "no" or "false" => false,
            _ => throw new ConfigException($"{Where()} must be y/n (or true/false), got '{e.Value}'"),
        };
        int Int(int min, int max) =>
            int.TryParse(e.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
                ? n
                : throw new ConfigException($"{Where()} must be a whole number from {min} to {max}, got '{e.Value}'");
        string AbsolutePath() => e.Value.StartsWith('/') && !e.Value.Split('/').Contains("..")
            ? e.Value.TrimEnd('/') is { Length: > 0 } p ? p : "/"
            : throw new ConfigException($"{Where()} must be an absolute path without '..', got '{e.Value}'");
        Uri Url() => Uri.TryCreate(e.Value, UriKind.Absolute, out var u) && u.Scheme is "http" or "https"
            ? u
            : throw new ConfigException($"{Where()} must be an http:// or https:// URL, got '{e.Value}'");

        switch (e.Key)
        {
            case "Provisioning.Agent":
                var agent = e.Value.ToLowerInvariant();
                return agent is "auto" or "waagent" or "latch" or "disabled" or "cloud-init"
                    ? c with { ProvisioningAgent = agent }
                    : throw new ConfigException($"{Where()} must be auto, waagent, latch, cloud-init or disabled, got '{e.Value}'");
            case "Provisioning.Enabled":
                // the older switch: n means the platform provisions through something else
                return Bool() ? c : c with { ProvisioningAgent = "disabled" };
            case "Provisioning.RegenerateSshHostKeyPair":
                return c with { RegenerateSshHostKeyPair = Bool() };
            case "Provisioning.SshHostKeyPairType":
                return c with
                {
                    SshHostKeyPairType = e.Value.ToLowerInvariant() switch
                    {
                        "rsa" => HostKeyType.Rsa,
                        "ecdsa" => HostKeyType.Ecdsa,
                        "ed25519" => HostKeyType.Ed25519,
                        "auto" => HostKeyType.Auto,
                        "dsa" => throw new ConfigException($"{Where()}: dsa host keys are refused by current OpenSSH; use rsa, ecdsa, ed25519 or auto"),
                        _ => throw new ConfigException($"{Where()} must be rsa, ecdsa, ed25519 or auto, got '{e.Value}'"),
                    },
                };
            case "Provisioning.DeleteRootPassword":
                return c with { DeleteRootPassword = Bool() };
            case "Provisioning.PasswordCryptSaltLength":
                return c with { PasswordCryptSaltLength = Int(8, 16) };
            case "Provisioning.PasswordCryptId":
                return e.Value == "6" ? c : throw new ConfigException($"{Where()}: latchd writes SHA-512 crypt only; set it to 6 (got '{e.Value}')");
            case "Provisioning.MonitorHostName":
                return c with { MonitorHostName = Bool() };
            case "OS.HomeDir":
                return c with { HomeDirectory = AbsolutePath() };
            case "OS.SudoersDir":
                return c with { SudoersDirectory = AbsolutePath() };
            case "OS.SshDir":
                return c with { SshDirectory = AbsolutePath() };
            case "DVD.MountPoint":
                return c with { MediaMountPoint = AbsolutePath() };
            case "HttpProxy.Host":
                return c with { HttpProxyHost = e.Value.Length == 0 || e.Value == "None" ? null : e.Value };
            case "HttpProxy.Port":
                return c with { HttpProxyPort = e.Value.Length == 0 || e.Value == "None" ? null : Int(1, 65535) };
            case "ResourceDisk.Format":
                return c with { ResourceDiskFormat = Bool() };
            case "Latch.OvfEnvPath":
                return c with { OvfEnvPath = AbsolutePath() };
            case "Latch.UseImds":
                return c with { UseImds = Bool() };
            case "Latch.UseMedia":
                return c with { UseMedia = Bool() };
            case "Latch.ImdsUrl":
                return c with { ImdsUrl = Url() };
            case "Latch.WireServerUrl":
                return c with { WireServerUrl = Url() };
            case "Latch.StateDir":
                return c with { StateDirectory = AbsolutePath() };
            case "Latch.ReportDeadlineSeconds":
                return c with { ReportDeadlineSeconds = Int(5, 3600) };
            case "guard.store_dir":
                // GuardConfig checks the [guard] table; provisioning writes its keys into the same store
                return c with { KeyStoreDirectory = AbsolutePath() };
            case var key when key.StartsWith("guard.", StringComparison.Ordinal) || key.StartsWith("keyvault.", StringComparison.Ordinal):
                // the key guard's [guard] and [keyvault] tables: GuardConfig reads and checks them
                return c;
            default:
                if (strict)
                {
                    throw new ConfigException($"{Where()} is not a latchd setting; known keys: {string.Join(", ", Keys)}");
                }

                ignored.Add(e.Key);
                return c;
        }
    }
}
