using System.Diagnostics.CodeAnalysis;
using Latch.Agent.Guard;
using Latch.Agent.KeyStore;
using Latch.Azure;
using Microsoft.Extensions.Logging;

namespace Latch.Agent.KeyVaultPull;

/// <summary>How the last pull went, for <c>latchd guard status</c>.</summary>
internal sealed record KeyVaultStatus(string Vault, DateTimeOffset? LastAttempt, DateTimeOffset? LastSuccess, string? LastError, int Keys, long Requests, bool UsingLastKnownGood);

/// <summary>
/// Reads the VM's keys from Key Vault with the VM's managed identity and writes them into the key store. Which secrets:
/// <c>keyvault.secret_names</c>, the convention name <c>PREFIX-VM-key</c>, and (when <c>discover_by_tags</c>) every
/// secret tagged <c>latch-vm=VM</c>; the user is the secret's <c>latch-user</c> tag, else <c>default_user</c>, else
/// the VM's admin user from IMDS. A listed secret's value is read (GET) only when its version changed, so a steady
/// state costs one list request per poll. A secret that is disabled, expired, deleted or no longer tagged is retired:
/// removed from the store and, by the guard, from authorized_keys. When Key Vault or IMDS fails, nothing changes
/// (the last known good keys stay) and the status says so.
/// </summary>
internal sealed class KeyVaultPuller : IDisposable
{
    /// <summary>
    /// False in latchd-guard (its project sets the switch): the trimmer then drops the puller and the HTTP, TLS and
    /// Key Vault client code it brings, and latchd-guard hands a configuration with Key Vault pull over to latchd.
    /// </summary>
    [FeatureSwitchDefinition(IsSupportedSwitch)]
    public static bool IsSupported => !AppContext.TryGetSwitch(IsSupportedSwitch, out var supported) || supported;

    public const string IsSupportedSwitch = "Latch.Agent.KeyVaultPull.IsSupported";

    private const string SourcePrefix = "keyvault:";
    private static readonly TimeSpan s_retiredKeep = TimeSpan.FromDays(30);
    private readonly KeyVaultPullOptions _options;
    private readonly KeyStoreFiles _store;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ManagedIdentityCredential _credential;
    private readonly KeyVaultSecretsClient _client;
    private readonly ImdsClient _imds;
    private readonly Dictionary<string, (string? Version, Secret? Value)> _values = new(StringComparer.OrdinalIgnoreCase);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private string? _vmName;
    private string? _adminUser;
    private long _requests;
    private readonly string? _statusFile;
    private KeyVaultStatus _status;

    /// <param name="statusFile">Where each pull's outcome is recorded for <c>latchd status</c>; null records nothing.</param>
    public KeyVaultPuller(KeyVaultPullOptions options, KeyStoreFiles store, ILogger logger, TimeProvider time, string? statusFile = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _store = store;
        _logger = logger;
        _time = time;
        _statusFile = statusFile;
        var vault = options.VaultUrl ?? throw new ArgumentException("keyvault.vault_url is not set", nameof(options));
        // a poller retries at its next poll: each pull gives up within 30 s instead of the clients' interactive defaults
        var retry = new RetryOptions { MaxAttempts = options.MaxAttemptsPerPull, InitialDelay = TimeSpan.FromSeconds(0.5), MaxDelay = TimeSpan.FromSeconds(10), TotalDeadline = TimeSpan.FromSeconds(30) };
        var imdsOptions = new ImdsClientOptions { BaseAddress = options.ImdsUrl, TimeProvider = time, Retry = retry, PerCallTimeout = TimeSpan.FromSeconds(10) };
        _imds = new ImdsClient(imdsOptions);
        _credential = new ManagedIdentityCredential(imdsOptions, options.ClientId);
        _client = new KeyVaultSecretsClient(
            new KeyVaultSecretsClientOptions(vault) { Retry = retry, PerCallTimeout = TimeSpan.FromSeconds(10), CaCertificatePath = options.CaCertificate, VerifyChallengeResource = options.VerifyChallengeResource, TimeProvider = time },
            _credential.GetTokenAsync);
        _status = new KeyVaultStatus(vault.ToString(), null, null, null, 0, 0, false);
    }

    public KeyVaultStatus Status => Volatile.Read(ref _status);

    /// <summary>One pull; returns the users whose store changed. Never throws for Key Vault/IMDS failures.</summary>
    public async Task<IReadOnlyList<string>> PullAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        var attempt = _time.GetUtcNow();
        try
        {
            var wanted = await ReadVaultAsync(cancellationToken).ConfigureAwait(false);
            var changed = Apply(wanted, _time.GetUtcNow(), cancellationToken);
            var keys = wanted.Sum(w => w.Value.Count);
            GuardLog.Pulled(_logger, wanted.Count, keys, _status.Vault, (int)Interlocked.Read(ref _requests));
            Record(_status with { LastAttempt = attempt, LastSuccess = attempt, LastError = null, Keys = keys, Requests = Interlocked.Read(ref _requests), UsingLastKnownGood = false });
            return changed;
        }
        catch (Exception e) when (e is AzureRequestException or AzureFormatException or HttpRequestException or Latch.Core.Files.SafeFileException)
        {
            GuardLog.PullFailed(_logger, _status.Vault, e.Message);
            Record(_status with { LastAttempt = attempt, LastError = e.Message, Requests = Interlocked.Read(ref _requests), UsingLastKnownGood = true });
            return [];
        }
        finally
        {
            _gate.Release();
        }
    }

    private void Record(KeyVaultStatus status)
    {
        Volatile.Write(ref _status, status);
        if (_statusFile is not null && KeyVaultStatusFile.Write(_statusFile, status) is { } problem)
        {
            GuardLog.StatusNotRecorded(_logger, problem);
        }
    }

    private async Task<Dictionary<string, List<ManagedKey>>> ReadVaultAsync(CancellationToken cancellationToken)
    {
        if (_vmName is null || _adminUser is null)
        {
            if (_options.VmName is { } configured && _options.DefaultUser is { } user)
            {
                (_vmName, _adminUser) = (configured, user);
            }
            else
            {
                var instance = await _imds.GetInstanceAsync(cancellationToken).ConfigureAwait(false);
                Interlocked.Increment(ref _requests);
                _vmName = _options.VmName ?? instance.Compute.Name;
                _adminUser = _options.DefaultUser ?? instance.Compute.OsProfile?.AdminUsername ?? "azureuser";
            }
        }

        var vm = _vmName;
        var names = new HashSet<string>(_options.SecretNames, StringComparer.OrdinalIgnoreCase) { $"{_options.SecretPrefix}-{vm}-key" };
        var candidates = new Dictionary<string, KeyVaultSecretProperties?>(StringComparer.OrdinalIgnoreCase);
        if (_options.DiscoverByTags)
        {
            var listed = await _client.ListSecretPropertiesAsync(cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref _requests);
            foreach (var properties in listed)
            {
                if (names.Contains(properties.Name) || (properties.Tags.TryGetValue("latch-vm", out var tagged) && string.Equals(tagged, vm, StringComparison.OrdinalIgnoreCase)))
                {
                    candidates[properties.Name] = properties;
                }
            }
        }
        else
        {
            foreach (var name in names)
            {
                candidates[name] = null;
            }
        }

        var now = _time.GetUtcNow();
        var wanted = new Dictionary<string, List<ManagedKey>>(StringComparer.Ordinal);
        foreach (var (name, listedProperties) in candidates)
        {
            var properties = listedProperties;
            Secret? value;
            if (properties is { Enabled: false })
            {
                continue;
            }

            if (properties is not null && _values.TryGetValue(name, out var cached) && cached.Version == properties.Version && cached.Value is not null)
            {
                value = cached.Value;
            }
            else
            {
                KeyVaultSecret? secret;
                try
                {
                    secret = await _client.GetSecretAsync(name, cancellationToken: cancellationToken).ConfigureAwait(false);
                    Interlocked.Increment(ref _requests);
                }
                catch (AzureRequestException e) when (e.Status == 403 && e.Message.Contains("disabled", StringComparison.OrdinalIgnoreCase))
                {
                    Interlocked.Increment(ref _requests);
                    continue;
                }

                if (secret is null)
                {
                    _values.Remove(name);
                    continue;
                }

                properties = secret.Properties;
                value = secret.Value;
                _values[name] = (properties.Version, value);
            }

            if (properties!.Enabled == false || (properties.ExpiresOn is { } exp && exp <= now))
            {
                continue;
            }

            var user = properties.Tags.TryGetValue("latch-user", out var taggedUser) ? taggedUser : _adminUser!;
            if (!KeyStoreDocument.IsValidUserName(user))
            {
                GuardLog.SecretSkipped(_logger, name, $"its latch-user tag '{KeyStoreFiles.Printable(user)}' is not a valid user name");
                continue;
            }

            if (!SecretKeyParser.TryParse(value.Reveal(), name, out var key, out var error))
            {
                GuardLog.SecretSkipped(_logger, name, error!);
                continue;
            }

            if (!wanted.TryGetValue(user, out var list))
            {
                wanted[user] = list = [];
            }

            list.Add(ManagedKey.Create(key!, SourcePrefix + name, properties.NotBefore, properties.ExpiresOn));
        }

        return wanted;
    }

    /// <summary>Merges the vault's keys into each store file: other sources' keys are kept, keys gone from the vault are retired.</summary>
    private List<string> Apply(Dictionary<string, List<ManagedKey>> wanted, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var changed = new List<string>();
        foreach (var user in _store.Users().Concat(wanted.Keys).Distinct(StringComparer.Ordinal))
        {
            var read = _store.Read(user);
            if (read.Status is not (StoreReadStatus.Ok or StoreReadStatus.Missing))
            {
                // a refused or corrupt store is reported by the guard and rewritten only when it is ours to fix
                if (read.Status != StoreReadStatus.Corrupt)
                {
                    continue;
                }
            }

            var current = read.Document ?? KeyStoreDocument.Empty(user);
            var fromVault = wanted.GetValueOrDefault(user) ?? [];
            var others = current.Keys.Where(k => !k.Source.StartsWith(SourcePrefix, StringComparison.Ordinal)).ToList();
            var keep = new HashSet<Latch.Core.Keys.KeyIdentity>(others.Concat(fromVault).Select(k => k.Key.Identity));
            var retired = current.Retired.Where(r => !keep.Contains(r.Key.Identity) && now - r.RetiredAt < s_retiredKeep).ToList();
            foreach (var gone in current.Keys.Where(k => k.Source.StartsWith(SourcePrefix, StringComparison.Ordinal) && !keep.Contains(k.Key.Identity)))
            {
                if (retired.All(r => r.Key.Identity != gone.Key.Identity))
                {
                    retired.Add(new RetiredKey(gone.Key, gone.Source, now));
                }
            }

            var next = new KeyStoreDocument(user, [.. others, .. fromVault], retired);
            if (read.Document is not null && next.Format().AsSpan().SequenceEqual(read.Document.Format()))
            {
                continue;
            }

            if (read.Document is null && next.Keys.Count == 0 && next.Retired.Count == 0)
            {
                continue;
            }

            _store.Write(next, cancellationToken);
            changed.Add(user);
        }

        return changed;
    }

    public void Dispose()
    {
        _client.Dispose();
        _credential.Dispose();
        _imds.Dispose();
        _gate.Dispose();
    }
}
