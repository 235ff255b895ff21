using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace Latch.Emulator;

/// <summary>A failed Key Vault operation, as the service reports it: status, error code, message, inner code.</summary>
internal sealed record KeyVaultError(int Status, string Code, string Message, string? InnerCode = null);

/// <summary>One version of a secret. Immutable: an update replaces the version's record.</summary>
internal sealed record SecretVersion(
    string Name,
    string Version,
    string Value,
    string? ContentType,
    bool Enabled,
    DateTimeOffset? NotBefore,
    DateTimeOffset? Expires,
    DateTimeOffset Created,
    DateTimeOffset Updated,
    IReadOnlyDictionary<string, string> Tags);

/// <summary>A soft-deleted secret: all its versions, kept until purged or recovered.</summary>
internal sealed record DeletedSecret(SecretVersion Latest, IReadOnlyList<SecretVersion> Versions, DateTimeOffset DeletedOn, DateTimeOffset ScheduledPurge);

/// <summary>What a PUT (set) or PATCH (update) asks for; null fields are left as they are (PATCH) or defaulted (PUT).</summary>
internal sealed record SecretChange(string? ContentType, bool? Enabled, DateTimeOffset? NotBefore, DateTimeOffset? Expires, IReadOnlyDictionary<string, string>? Tags);

/// <summary>
/// The emulator's Key Vaults and their secrets (with versions and soft delete), seeded from the scenario.
/// Secret names are case-insensitive, as in Key Vault; a name keeps the spelling it was first created with.
/// Thread-safe.
/// </summary>
internal sealed partial class KeyVaultStore
{
    public const string RecoveryLevel = "Recoverable+Purgeable";
    public const int RecoverableDays = 90;

    /// <summary>Key Vault's limit on a secret value.</summary>
    public const int MaxValueBytes = 25 * 1024;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, VaultState> _vaults = new(StringComparer.OrdinalIgnoreCase);
    private readonly Scenario _scenario;
    private readonly TimeProvider _time;

    public KeyVaultStore(Scenario scenario, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(time);
        _scenario = scenario;
        _time = time;
        foreach (var vault in scenario.Vaults)
        {
            var state = new VaultState(vault);
            if (!_vaults.TryAdd(vault.Name, state))
            {
                throw new ArgumentException($"The scenario defines the vault '{vault.Name}' twice; give each vault a unique name.", nameof(scenario));
            }
            foreach (var secret in vault.Secrets)
            {
                if (!IsValidName(secret.Name))
                {
                    throw new ArgumentException($"Vault '{vault.Name}': '{secret.Name}' is not a valid secret name (1-127 letters, digits and dashes).", nameof(scenario));
                }
                var created = time.GetUtcNow();
                state.Live[secret.Name] = [new SecretVersion(secret.Name, NewVersionId(), secret.Value, secret.ContentType, secret.Enabled,
                    secret.NotBefore, secret.Expires, created, created, new Dictionary<string, string>(secret.Tags))];
            }
        }
    }

    public Scenario Scenario => _scenario;

    public TimeProvider Time => _time;

    /// <summary>
    /// The vault a request is for: the Host header's first label when it names a vault
    /// (latch-demo-kv.vault.localhost:8443 → latch-demo-kv), otherwise the scenario's only vault; null when neither applies.
    /// </summary>
    public VaultDefinition? ResolveVault(string? host)
    {
        var name = (host ?? "").Split('.', ':')[0];
        lock (_gate)
        {
            if (name.Length > 0 && _vaults.TryGetValue(name, out var byHost))
            {
                return byHost.Definition;
            }
            return _vaults.Count == 1 ? _vaults.Values.First().Definition : null;
        }
    }

    public static bool IsAllowed(VaultDefinition vault, string principalId) =>
        vault.AllowedPrincipals.Any(p => string.Equals(p, principalId, StringComparison.OrdinalIgnoreCase));

    public static bool IsValidName(string name) => SecretNamePattern().IsMatch(name);

    public bool TrySet(string vault, string name, string value, SecretChange change, out SecretVersion created, out KeyVaultError error)
    {
        created = null!;
        if (!ValidateName(name, out error))
        {
            return false;
        }
        if (System.Text.Encoding.UTF8.GetByteCount(value) > MaxValueBytes)
        {
            error = new KeyVaultError(400, "BadParameter", $"The secret value is larger than Key Vault's limit of {MaxValueBytes} bytes.");
            return false;
        }
        lock (_gate)
        {
            var state = Vault(vault);
            PurgeExpired(state);
            if (state.Deleted.TryGetValue(name, out var deleted))
            {
                error = new KeyVaultError(409, "Conflict",
                    $"Secret {deleted.Latest.Name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.",
                    "ObjectIsDeletedButRecoverable");
                return false;
            }
            var now = _time.GetUtcNow();
            var versions = state.Live.TryGetValue(name, out var existing) ? existing : state.Live[name] = [];
            var displayName = versions.Count > 0 ? versions[0].Name : name;
            created = new SecretVersion(displayName, NewVersionId(), value, change.ContentType, change.Enabled ?? true, change.NotBefore, change.Expires,
                now, now, change.Tags is null ? new Dictionary<string, string>() : new Dictionary<string, string>(change.Tags));
            versions.Add(created);
            error = null!;
            return true;
        }
    }

    /// <summary>Gets a version (null or empty: the latest) whatever its state; the caller decides what a disabled secret means.</summary>
    public bool TryGet(string vault, string name, string? version, out SecretVersion secret, out KeyVaultError error)
    {
        secret = null!;
        if (!ValidateName(name, out error))
        {
            return false;
        }
        lock (_gate)
        {
            var state = Vault(vault);
            var found = state.Live.TryGetValue(name, out var versions)
                ? string.IsNullOrEmpty(version) ? versions[^1] : versions.FirstOrDefault(v => string.Equals(v.Version, version, StringComparison.OrdinalIgnoreCase))
                : null;
            if (found is null)
            {
                error = NotFound(name, version);
                return false;
            }
            secret = found;
            return true;
        }
    }

    /// <summary>The latest version of every live secret, ordered by name.</summary>
    public IReadOnlyList<SecretVersion> ListLatest(string vault)
    {
        lock (_gate)
        {
            return [.. Vault(vault).Live.Values.Select(v => v[^1]).OrderBy(v => v.Name, StringComparer.OrdinalIgnoreCase)];
        }
    }

    public bool TryListVersions(string vault, string name, out IReadOnlyList<SecretVersion> versions, out KeyVaultError error)
    {
        versions = [];
        if (!ValidateName(name, out error))
        {
            return false;
        }
        lock (_gate)
        {
            if (!Vault(vault).Live.TryGetValue(name, out var found))
            {
                error = NotFound(name, null);
                return false;
            }
            versions = [.. found];
            return true;
        }
    }

    public bool TryUpdate(string vault, string name, string? version, SecretChange change, out SecretVersion updated, out KeyVaultError error)
    {
        updated = null!;
        if (!ValidateName(name, out error))
        {
            return false;
        }
        lock (_gate)
        {
            var state = Vault(vault);
            var index = -1;
            if (state.Live.TryGetValue(name, out var versions))
            {
                index = string.IsNullOrEmpty(version) ? versions.Count - 1 : versions.FindIndex(v => string.Equals(v.Version, version, StringComparison.OrdinalIgnoreCase));
            }
            if (index < 0)
            {
                error = NotFound(name, version);
                return false;
            }
            var old = versions![index];
            updated = old with
            {
                ContentType = change.ContentType ?? old.ContentType,
                Enabled = change.Enabled ?? old.Enabled,
                NotBefore = change.NotBefore ?? old.NotBefore,
                Expires = change.Expires ?? old.Expires,
                Tags = change.Tags is null ? old.Tags : new Dictionary<string, string>(change.Tags),
                Updated = _time.GetUtcNow(),
            };
            versions[index] = updated;
            return true;
        }
    }

    public bool TryDelete(string vault, string name, out DeletedSecret deleted, out KeyVaultError error)
    {
        deleted = null!;
        if (!ValidateName(name, out error))
        {
            return false;
        }
        lock (_gate)
        {
            var state = Vault(vault);
            if (!state.Live.Remove(name, out var versions))
            {
                error = NotFound(name, null);
                return false;
            }
            var now = _time.GetUtcNow();
            deleted = new DeletedSecret(versions[^1], versions, now, now.AddDays(RecoverableDays));
            state.Deleted[name] = deleted;
            return true;
        }
    }

    public bool TryGetDeleted(string vault, string name, out DeletedSecret deleted, out KeyVaultError error)
    {
        deleted = null!;
        if (!ValidateName(name, out error))
        {
            return false;
        }
        lock (_gate)
        {
            var state = Vault(vault);
            PurgeExpired(state);
            if (!state.Deleted.TryGetValue(name, out var found))
            {
                error = DeletedNotFound(name);
                return false;
            }
            deleted = found;
            return true;
        }
    }

    public IReadOnlyList<DeletedSecret> ListDeleted(string vault)
    {
        lock (_gate)
        {
            var state = Vault(vault);
            PurgeExpired(state);
            return [.. state.Deleted.Values.OrderBy(d => d.Latest.Name, StringComparer.OrdinalIgnoreCase)];
        }
    }

    public bool TryPurge(string vault, string name, out KeyVaultError error)
    {
        if (!ValidateName(name, out error))
        {
            return false;
        }
        lock (_gate)
        {
            if (!Vault(vault).Deleted.Remove(name))
            {
                error = DeletedNotFound(name);
                return false;
            }
            return true;
        }
    }

    public bool TryRecover(string vault, string name, out SecretVersion recovered, out KeyVaultError error)
    {
        recovered = null!;
        if (!ValidateName(name, out error))
        {
            return false;
        }
        lock (_gate)
        {
            var state = Vault(vault);
            PurgeExpired(state);
            if (!state.Deleted.Remove(name, out var deleted))
            {
                error = DeletedNotFound(name);
                return false;
            }
            state.Live[name] = [.. deleted.Versions];
            recovered = deleted.Latest;
            return true;
        }
    }

    private VaultState Vault(string name) =>
        _vaults.TryGetValue(name, out var state) ? state : throw new InvalidOperationException($"No vault named '{name}' in the scenario.");

    private void PurgeExpired(VaultState state)
    {
        var now = _time.GetUtcNow();
        foreach (var name in state.Deleted.Where(d => d.Value.ScheduledPurge <= now).Select(d => d.Key).ToList())
        {
            state.Deleted.Remove(name);
        }
    }

    private static bool ValidateName(string name, out KeyVaultError error)
    {
        if (IsValidName(name))
        {
            error = null!;
            return true;
        }
        error = new KeyVaultError(400, "BadParameter", $"The request URI contains an invalid name: {name}");
        return false;
    }

    private static KeyVaultError NotFound(string name, string? version) => new(404, "SecretNotFound",
        $"A secret with (name/id) {name}{(string.IsNullOrEmpty(version) ? "" : "/" + version)} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182");

    private static KeyVaultError DeletedNotFound(string name) => new(404, "SecretNotFound", $"Deleted Secret not found: no deleted secret named {name} in this key vault.");

    private static string NewVersionId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    [GeneratedRegex("^[0-9a-zA-Z-]{1,127}$")]
    private static partial Regex SecretNamePattern();

    private sealed class VaultState(VaultDefinition definition)
    {
        public VaultDefinition Definition { get; } = definition;
        public Dictionary<string, List<SecretVersion>> Live { get; } = new(StringComparer.OrdinalIgnoreCase);
        public Dictionary<string, DeletedSecret> Deleted { get; } = new(StringComparer.OrdinalIgnoreCase);
    }
}
