using Latch.Agent.KeyStore;
using Latch.Agent.Os;
using Latch.Core.Keys;

namespace Latch.Agent.Provisioning;

/// <summary>
/// The keys provisioning installed, kept in the key guard's store (<c>guard.store_dir</c>, default
/// /var/lib/latch/keys/USER) under the source <see cref="Source"/>, so latch-akc serves them and the file guard puts
/// them back when authorized_keys is overwritten. Keys of other sources (Key Vault, <c>latchd keys add</c>) are kept.
/// </summary>
internal sealed class ProvisionedKeys(HostSystem system, string storeDirectory)
{
    public const string Source = "provisioning";

    /// <summary>Where latchd before the key store recorded provisioned keys: {state}/managed-keys/USER (authorized_keys lines).</summary>
    public const string LegacyDirectoryName = "managed-keys";

    private readonly KeyStoreFiles _store = new(system.PathOf(storeDirectory));

    /// <summary>The store file of <paramref name="user"/> as the managed system names it.</summary>
    public string PathOf(string user) => storeDirectory.TrimEnd('/') + "/" + user;

    /// <summary>
    /// Makes <paramref name="keys"/> the user's provisioning keys: added (options dropped, as sshd gets them from the
    /// store), taken off the retired list (this instance's provisioning asks for them). Provisioning keys of an earlier
    /// instance that are not given again stop being managed but are not retired: like the authorized_keys merge, a new
    /// instance never takes a key away. A key another source already manages is left to that source. Returns the number
    /// of keys added.
    /// </summary>
    /// <exception cref="ProvisioningException">The store file is refused (unsafe) or unreadable; nothing was written.</exception>
    public int Record(string user, IReadOnlyCollection<SshPublicKey> keys, CancellationToken cancellationToken = default)
    {
        var current = ReadForUpdate(user);
        var wanted = keys.Select(k => k.Identity).ToHashSet();
        var others = current.Keys.Where(k => k.Source != Source).ToList();
        var otherIdentities = others.Select(k => k.Key.Identity).ToHashSet();
        var kept = current.Keys.Where(k => k.Source == Source && wanted.Contains(k.Key.Identity)).ToList();
        var added = new List<ManagedKey>();
        foreach (var key in keys.DistinctBy(k => k.Identity))
        {
            if (!otherIdentities.Contains(key.Identity) && kept.All(k => k.Key.Identity != key.Identity))
            {
                added.Add(ManagedKey.Create(key, Source, null, null));
            }
        }

        var next = new KeyStoreDocument(user, [.. others, .. kept, .. added], [.. current.Retired.Where(r => !wanted.Contains(r.Key.Identity))]);
        if (!next.Format().AsSpan().SequenceEqual(current.Format()))
        {
            _store.Write(next, cancellationToken);
        }

        return added.Count;
    }

    /// <summary>
    /// Deprovisioning: removes the provisioning keys from every user's store file (not retired: like waagent's
    /// deprovision, authorized_keys is left alone, but an image captured afterwards must not hand the old admin key to
    /// every VM made from it). A file left with nothing is deleted. Returns the store files changed.
    /// </summary>
    public IReadOnlyList<string> Forget(CancellationToken cancellationToken = default)
    {
        var changed = new List<string>();
        foreach (var (user, current) in Holding())
        {
            var next = current with { Keys = [.. current.Keys.Where(k => k.Source != Source)] };
            if (next.Keys.Count == 0 && next.Retired.Count == 0)
            {
                _store.Delete(user);
            }
            else
            {
                _store.Write(next, cancellationToken);
            }

            changed.Add(PathOf(user));
        }

        return changed;
    }

    /// <summary>
    /// A machine provisioned by a latchd that kept the keys in {state}/managed-keys/USER: moves them into the store
    /// (source <see cref="Source"/>) and deletes the old file, so an upgrade keeps serving them. A line that is not a
    /// valid key is skipped and logged. Returns the users migrated.
    /// </summary>
    public IReadOnlyList<string> MigrateLegacy(string stateDirectory, CancellationToken cancellationToken = default)
    {
        var directory = system.PathOf(stateDirectory.TrimEnd('/') + "/" + LegacyDirectoryName);
        if (!Directory.Exists(directory) || new DirectoryInfo(directory).LinkTarget is not null)
        {
            return [];
        }

        var migrated = new List<string>();
        foreach (var file in Directory.EnumerateFiles(directory).Order(StringComparer.Ordinal))
        {
            var user = Path.GetFileName(file);
            if (!KeyStoreDocument.IsValidUserName(user) || new FileInfo(file).LinkTarget is not null)
            {
                Log.LegacyKeysSkipped(system.Logger, file, "not a user name or a symbolic link");
                continue;
            }

            var keys = new List<SshPublicKey>();
            foreach (var line in File.ReadAllLines(file).Where(l => l.Length > 0 && !l.StartsWith('#')))
            {
                if (SshPublicKey.TryParse(line, out var key, out var error))
                {
                    keys.Add(key);
                }
                else
                {
                    Log.LegacyKeysSkipped(system.Logger, file, error.ToString());
                }
            }

            try
            {
                Record(user, keys, cancellationToken);
            }
            catch (ProvisioningException e)
            {
                // the old file stays until the store can take its keys
                Log.LegacyKeysSkipped(system.Logger, file, e.Message);
                continue;
            }

            File.Delete(file);
            migrated.Add(user);
            Log.LegacyKeysMigrated(system.Logger, file, keys.Count, PathOf(user));
        }

        if (!Directory.EnumerateFileSystemEntries(directory).Any())
        {
            Directory.Delete(directory);
        }

        return migrated;
    }

    /// <summary>The users whose store file holds provisioning keys, with that file's content.</summary>
    public IReadOnlyList<(string User, KeyStoreDocument Document)> Holding() =>
        [.. _store.Users().Select(u => (User: u, _store.Read(u).Document)).Where(r => r.Document?.Keys.Any(k => k.Source == Source) == true).Select(r => (r.User, r.Document!))];

    /// <summary>A new instance recorded its own keys in the store: an earlier latchd's managed-keys files are stale; deleted.</summary>
    public void DropLegacy(string stateDirectory)
    {
        var directory = system.PathOf(stateDirectory.TrimEnd('/') + "/" + LegacyDirectoryName);
        if (Directory.Exists(directory) && new DirectoryInfo(directory).LinkTarget is null)
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private KeyStoreDocument ReadForUpdate(string user)
    {
        var read = _store.Read(user);
        return read.Status switch
        {
            StoreReadStatus.Ok => read.Document!,
            StoreReadStatus.Missing => KeyStoreDocument.Empty(user),
            StoreReadStatus.Corrupt => throw new ProvisioningException("keys", "KeyStoreCorrupt",
                $"{read.Problem}; latchd does not overwrite it (it may hold keys from Key Vault or 'latchd keys add'). Move it aside and run 'latchd provision' again"),
            _ => throw new ProvisioningException("keys", "KeyStoreRefused", read.Problem ?? $"cannot read {PathOf(user)}"),
        };
    }
}
