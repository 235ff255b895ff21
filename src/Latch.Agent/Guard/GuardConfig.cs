using System.Globalization;
using Latch.Agent.Guard.Watch;
using Latch.Agent.KeyStore;
using Latch.Core;

namespace Latch.Agent.Guard;

/// <summary>A configuration file latchd cannot use; the message names the file, line and key.</summary>
internal sealed class GuardConfigException : LatchException
{
    public GuardConfigException() { }

    public GuardConfigException(string message) : base(message) { }

    public GuardConfigException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>Key Vault pull settings ([keyvault]); <see cref="VaultUrl"/> null means the pull is off.</summary>
internal sealed record KeyVaultPullOptions
{
    public Uri? VaultUrl { get; init; }
    public string? CaCertificate { get; init; }
    public string? VmName { get; init; }
    public string? DefaultUser { get; init; }
    public string SecretPrefix { get; init; } = "latch";
    public IReadOnlyList<string> SecretNames { get; init; } = [];
    public bool DiscoverByTags { get; init; } = true;
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(60);
    public double Jitter { get; init; } = 0.2;

    /// <summary>Wait a random part of the poll interval before the first pull (keyvault.start_jitter), so a fleet rebooting at once spreads out.</summary>
    public bool StartJitter { get; init; } = true;
    public string? ClientId { get; init; }
    public Uri ImdsUrl { get; init; } = Latch.Azure.ImdsClientOptions.DefaultAddress;
    public bool VerifyChallengeResource { get; init; } = true;

    /// <summary>Requests per secret read within one pull (the SDK honours 429's Retry-After between them); not a TOML setting.</summary>
    public int MaxAttemptsPerPull { get; init; } = 4;
}

/// <summary>
/// The key guard's settings from /etc/latch/latchd.toml: the [guard] and [keyvault] tables (other tables belong to
/// other parts of latchd and are skipped). Values are TOML strings, integers or booleans; unknown keys in these two
/// tables are errors, so a typo never silently becomes a default.
/// </summary>
internal sealed record GuardConfig
{
    public const string DefaultPath = "/etc/latch/latchd.toml";

    public string StoreDirectory { get; init; } = KeyStoreFiles.DefaultDirectory;
    public string AuditLog { get; init; } = Guard.AuditLog.DefaultPath;
    public string Socket { get; init; } = "/run/latch/latchd.sock";

    /// <summary>The account database the guard reads homes from (guard.passwd_file); other than /etc/passwd only for benchmarks and tests.</summary>
    public string PasswdFile { get; init; } = "/etc/passwd";
    /// <summary>Where the last Key Vault pull's outcome is kept for <c>latchd status</c>: next to the key store (default /var/lib/latch/keyvault-status.json).</summary>
    public string KeyVaultStatusFile => Path.Combine(Path.GetDirectoryName(StoreDirectory.TrimEnd('/')) ?? "/", "keyvault-status.json");

    public FileGuardOptions Watch { get; init; } = new();
    public KeyVaultPullOptions KeyVault { get; init; } = new();

    public static GuardConfig Load(string? path)
    {
        var file = path ?? DefaultPath;
        if (!File.Exists(file))
        {
            return path is null ? new GuardConfig() : throw new GuardConfigException($"the configuration file {file} does not exist");
        }

        return Parse(File.ReadAllText(file), file);
    }

    public static GuardConfig Parse(string text, string source)
    {
        var config = new GuardConfig();
        var watch = config.Watch;
        var vault = config.KeyVault;
        var table = "";
        var number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var line = StripComment(raw).Trim();
            if (line.Length == 0)
            {
                continue;
            }

            if (line.StartsWith('[') && line.EndsWith(']'))
            {
                table = line[1..^1].Trim();
                continue;
            }

            if (table is not ("guard" or "keyvault"))
            {
                continue;
            }

            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw Error(source, number, $"expected 'key = value', got '{line}'");
            }

            var key = line[..eq].Trim();
            var value = Value(line[(eq + 1)..].Trim(), source, number, key);
            var at = $"{table}.{key}";
            switch (at)
            {
                case "guard.store_dir": config = config with { StoreDirectory = Absolute(value, source, number, at) }; break;
                case "guard.audit_log": config = config with { AuditLog = Absolute(value, source, number, at) }; break;
                case "guard.socket": config = config with { Socket = Absolute(value, source, number, at) }; break;
                case "guard.passwd_file": config = config with { PasswdFile = Absolute(value, source, number, at) }; break;
                case "guard.quiet_ms": watch = watch with { QuietWindow = TimeSpan.FromMilliseconds(Int(value, 0, 10_000, source, number, at)) }; break;
                case "guard.max_delay_ms": watch = watch with { MaxDelay = TimeSpan.FromMilliseconds(Int(value, 1, 60_000, source, number, at)) }; break;
                case "guard.max_defer_ms": watch = watch with { MaxDefer = TimeSpan.FromMilliseconds(Int(value, 0, 600_000, source, number, at)) }; break;
                case "guard.poll_seconds": watch = watch with { PollInterval = TimeSpan.FromSeconds(Int(value, 1, 3600, source, number, at)) }; break;
                case "guard.full_check_seconds": watch = watch with { FullCheckInterval = TimeSpan.FromSeconds(Int(value, 1, 86_400, source, number, at)) }; break;
                case "guard.max_watches": watch = watch with { MaxWatches = Int(value, 0, 1_000_000, source, number, at) }; break;
                case "keyvault.vault_url":
                    vault = vault with { VaultUrl = Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http" ? uri : throw Error(source, number, $"{at} must be an absolute https URL such as https://myvault.vault.azure.net/") };
                    break;
                case "keyvault.ca_certificate": vault = vault with { CaCertificate = Absolute(value, source, number, at) }; break;
                case "keyvault.vm_name": vault = vault with { VmName = value }; break;
                case "keyvault.default_user":
                    vault = vault with { DefaultUser = KeyStoreDocument.IsValidUserName(value) ? value : throw Error(source, number, $"{at} '{value}' is not a valid user name") };
                    break;
                case "keyvault.secret_prefix": vault = vault with { SecretPrefix = value }; break;
                case "keyvault.secret_names":
                    vault = vault with { SecretNames = [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)] };
                    break;
                case "keyvault.discover_by_tags": vault = vault with { DiscoverByTags = Bool(value, source, number, at) }; break;
                case "keyvault.poll_seconds": vault = vault with { PollInterval = TimeSpan.FromSeconds(Int(value, 5, 86_400, source, number, at)) }; break;
                case "keyvault.start_jitter": vault = vault with { StartJitter = Bool(value, source, number, at) }; break;
                case "keyvault.jitter_percent": vault = vault with { Jitter = Int(value, 0, 50, source, number, at) / 100.0 }; break;
                case "keyvault.client_id": vault = vault with { ClientId = value }; break;
                case "keyvault.imds_url":
                    vault = vault with { ImdsUrl = Uri.TryCreate(value, UriKind.Absolute, out var imds) ? imds : throw Error(source, number, $"{at} must be an absolute URL") };
                    break;
                case "keyvault.verify_challenge_resource": vault = vault with { VerifyChallengeResource = Bool(value, source, number, at) }; break;
                default:
                    throw Error(source, number, $"unknown setting '{at}'; see 'latchd guard --help' and the README for the [guard] and [keyvault] settings");
            }
        }

        return config with { Watch = watch, KeyVault = vault };
    }

    private static string Value(string text, string source, int number, string key)
    {
        if (text.Length >= 2 && text[0] == '"' && text[^1] == '"' && text.IndexOf('"', 1) == text.Length - 1 && !text.Contains('\\', StringComparison.Ordinal))
        {
            return text[1..^1];
        }

        if (text.Length >= 2 && text[0] == '\'' && text[^1] == '\'' && text.IndexOf('\'', 1) == text.Length - 1)
        {
            return text[1..^1];
        }

        if (text is "true" or "false" || long.TryParse(text.Replace("_", "", StringComparison.Ordinal), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
        {
            return text.Replace("_", "", StringComparison.Ordinal);
        }

        throw Error(source, number, $"the value of '{key}' must be a \"string\" (without escapes), an integer or true/false; got '{text}'");
    }

    private static string StripComment(string line)
    {
        var quote = '\0';
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quote != '\0')
            {
                quote = c == quote ? '\0' : quote;
            }
            else if (c is '"' or '\'')
            {
                quote = c;
            }
            else if (c == '#')
            {
                return line[..i];
            }
        }

        return line;
    }

    private static string Absolute(string value, string source, int number, string key) =>
        value.StartsWith('/') ? value : throw Error(source, number, $"{key} must be an absolute path, got '{value}'");

    private static int Int(string value, int min, int max, string source, int number, string key) =>
        int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw Error(source, number, $"{key} must be an integer from {min} to {max}, got '{value}'");

    private static bool Bool(string value, string source, int number, string key) =>
        value switch { "true" => true, "false" => false, _ => throw Error(source, number, $"{key} must be true or false, got '{value}'") };

    private static GuardConfigException Error(string source, int number, string message) => new($"{source}:{number}: {message}");
}
