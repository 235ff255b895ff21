using System.Globalization;
using Tomlyn;
using Tomlyn.Model;
using Tomlyn.Serialization;

namespace Latch.Cli.Config;

/// <summary>A problem with the configuration file or a configuration value.</summary>
internal sealed class ConfigException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// <c>config.toml</c>, read through Tomlyn's model (a source-generated context, so NativeAOT-clean). Known keys and
/// their types are listed in <see cref="Known"/>; <c>[vm.NAME]</c> tables override <c>[ssh]</c> for one VM.
/// </summary>
internal sealed class LatchConfig
{
    /// <summary>Every settable key, its type and what it means (printed by <c>latch config get</c> without a key).</summary>
    public static readonly IReadOnlyList<(string Key, string Type, string Default, string Description)> Known =
    [
        ("ssh.auto_sync_keys", "bool", "true", "sync the key before connecting"),
        ("ssh.sync_method", "string", "auto", "auto | agent | run-command | ssh | skip"),
        ("ssh.sync_timeout", "int", "30", "seconds allowed for one key sync"),
        ("ssh.connect_timeout", "int", "120", "seconds to wait for SSH to come up"),
        ("ssh.user", "string", "", "login user (default: the VM's admin user from ARM)"),
        ("ssh.port", "int", "22", "SSH port"),
        ("ssh.program", "string", "ssh", "the ssh client to exec"),
        ("ssh.identity_file", "string", "", "private key for ssh -i when Key Vault holds no private key"),
        ("ssh.use_private_ip", "bool", "false", "connect to the private IP even when a public one exists"),
        ("azure.subscription", "string", "", "subscription id (else AZURE_SUBSCRIPTION_ID)"),
        ("azure.tenant", "string", "", "tenant id for client-secret login (else AZURE_TENANT_ID)"),
        ("azure.auth", "string", "auto", "auto | environment | cli | managed-identity"),
        ("azure.key_vault", "string", "", "Key Vault name or URL holding per-VM keys"),
        ("azure.key_secret_prefix", "string", "latch", "secret name is PREFIX-VM-key"),
        ("azure.emulator", "string", "", "latch-emulator control URL (else LATCH_EMULATOR)"),
        ("azure.cache_tokens", "bool", "true", "keep access tokens in ~/.cache/latch/session.json (0600) until shortly before they expire"),
        ("vm.NAME.auto_sync_keys", "bool", "", "per-VM override"),
        ("vm.NAME.sync_method", "string", "", "per-VM override"),
        ("vm.NAME.user", "string", "", "per-VM override"),
        ("vm.NAME.resource_group", "string", "", "per-VM resource group"),
        ("vm.NAME.key_secret", "string", "", "per-VM Key Vault secret name"),
    ];

    private readonly TomlTable _root;

    private LatchConfig(string path, TomlTable root)
    {
        Path = path;
        _root = root;
    }

    public string Path { get; }

    public static LatchConfig Load(string path)
    {
        if (!File.Exists(path))
        {
            return new LatchConfig(path, new TomlTable());
        }

        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"cannot read config file {path}: {e.Message}", e);
        }

        return Parse(path, text);
    }

    public static LatchConfig Parse(string path, string text)
    {
        TomlTable root;
        try
        {
            root = TomlSerializer.Deserialize(text, ConfigTomlContext.Default.TomlTable) ?? new TomlTable();
        }
        catch (TomlException e)
        {
            throw new ConfigException($"{path}: not valid TOML: {e.Message.Split('\n')[0]}. Fix the file or move it away.", e);
        }

        var config = new LatchConfig(path, root);
        config.Validate();
        return config;
    }

    private void Validate()
    {
        foreach (var (section, value) in _root)
        {
            if (value is not TomlTable table)
            {
                throw new ConfigException($"{Path}: '{section}' must be a table ([ssh], [azure] or [vm.NAME]).");
            }

            if (section == "vm")
            {
                foreach (var (vm, vmTable) in table)
                {
                    if (vmTable is not TomlTable perVm)
                    {
                        throw new ConfigException($"{Path}: 'vm.{vm}' must be a table: [vm.{vm}].");
                    }

                    foreach (var (key, item) in perVm)
                    {
                        CheckType($"vm.NAME.{key}", $"vm.{vm}.{key}", item);
                    }
                }

                continue;
            }

            foreach (var (key, item) in table)
            {
                CheckType($"{section}.{key}", $"{section}.{key}", item);
            }
        }

        if (GetString("ssh.sync_method") is { } method && !SyncMethods.Contains(method))
        {
            throw new ConfigException($"{Path}: ssh.sync_method = '{method}' is not one of {string.Join(", ", SyncMethods)}.");
        }
    }

    public static readonly string[] SyncMethods = ["auto", "agent", "run-command", "ssh", "skip"];

    private void CheckType(string pattern, string key, object? value)
    {
        var known = Known.FirstOrDefault(k => k.Key == pattern);
        if (known.Key is null)
        {
            throw new ConfigException($"{Path}: unknown setting '{key}'. Known settings: {string.Join(", ", Known.Select(k => k.Key))}.");
        }

        var ok = known.Type switch
        {
            "bool" => value is bool,
            "int" => value is long l && l is >= 0 and <= 86_400,
            _ => value is string,
        };
        if (!ok)
        {
            throw new ConfigException($"{Path}: '{key}' must be a {(known.Type == "int" ? "whole number (0-86400)" : known.Type)}, not '{value}'.");
        }
    }

    private object? Lookup(string dotted)
    {
        var parts = SplitKey(dotted);
        object? current = _root;
        foreach (var part in parts)
        {
            if (current is not TomlTable table || !table.TryGetValue(part, out current))
            {
                return null;
            }
        }

        return current;
    }

    public string? GetString(string key) => Lookup(key) as string is { Length: > 0 } s ? s : null;

    public bool? GetBool(string key) => Lookup(key) as bool?;

    public int? GetInt(string key) => Lookup(key) is long l ? (int)l : null;

    public string? VmString(string vm, string key) => GetString($"vm.{Quote(vm)}.{key}");

    public bool? VmBool(string vm, string key) => GetBool($"vm.{Quote(vm)}.{key}");

    /// <summary>The value as <c>latch config get</c> prints it, or null when unset.</summary>
    public string? GetText(string key) => Lookup(key) switch
    {
        null => null,
        bool b => b ? "true" : "false",
        long l => l.ToString(CultureInfo.InvariantCulture),
        string s => s,
        TomlTable => null,
        var other => other.ToString(),
    };

    /// <summary>Sets one known key from its text form, checking the type. Does not save.</summary>
    public void Set(string key, string text)
    {
        var parts = SplitKey(key);
        var pattern = parts.Count == 3 && parts[0] == "vm" ? $"vm.NAME.{parts[2]}" : string.Join('.', parts);
        var known = Known.FirstOrDefault(k => k.Key == pattern);
        if (known.Key is null || parts.Count is < 2 or > 3 || (parts.Count == 3 && parts[0] != "vm"))
        {
            throw new ConfigException($"unknown setting '{key}'. Known settings: {string.Join(", ", Known.Select(k => k.Key))}.");
        }

        object value = known.Type switch
        {
            "bool" => text switch
            {
                "true" => true,
                "false" => false,
                _ => throw new ConfigException($"'{key}' takes true or false, not '{text}'."),
            },
            "int" => long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n <= 86_400
                ? n
                : throw new ConfigException($"'{key}' takes a whole number of seconds (0-86400), not '{text}'."),
            _ => text,
        };
        if (pattern.EndsWith("sync_method", StringComparison.Ordinal) && !SyncMethods.Contains(text))
        {
            throw new ConfigException($"'{key}' takes one of {string.Join(", ", SyncMethods)}, not '{text}'.");
        }

        var table = _root;
        foreach (var part in parts.Take(parts.Count - 1))
        {
            if (!table.TryGetValue(part, out var next) || next is not TomlTable child)
            {
                child = new TomlTable();
                table[part] = child;
            }

            table = child;
        }

        table[parts[^1]] = value;
    }

    public void Save() => LatchPaths.WritePrivateFile(Path, TomlSerializer.Serialize(_root, ConfigTomlContext.Default.TomlTable));

    /// <summary>Splits <c>vm."web.1".user</c> or <c>vm.web.user</c> into parts (quotes allow dots in a VM name).</summary>
    internal static List<string> SplitKey(string key)
    {
        var parts = new List<string>();
        var current = new System.Text.StringBuilder();
        var quoted = false;
        foreach (var c in key)
        {
            if (c == '"')
            {
                quoted = !quoted;
            }
            else if (c == '.' && !quoted)
            {
                parts.Add(current.ToString());
                current.Clear();
            }
            else
            {
                current.Append(c);
            }
        }

        parts.Add(current.ToString());
        return parts;
    }

    private static string Quote(string vm) => vm.Contains('.', StringComparison.Ordinal) ? $"\"{vm}\"" : vm;
}

[TomlSerializable(typeof(TomlTable))]
internal sealed partial class ConfigTomlContext : TomlSerializerContext;
