using Latch.Agent.KeyStore;
using Latch.Core.Files;
using Latch.Core.Keys;
using Microsoft.Extensions.Logging;

namespace Latch.Agent.Guard;

/// <summary>What one check of a user's authorized_keys did.</summary>
internal sealed record RestoreOutcome(string User, bool Changed, IReadOnlyList<string> Restored, IReadOnlyList<string> Removed, string? Refused);

/// <summary>
/// Puts a user's managed keys back into ~/.ssh/authorized_keys: appends the valid managed keys that are missing and
/// removes the retired or expired ones latchd manages, through <see cref="SafeFile.Update"/> (user-owned .ssh, no
/// symlinks, no hard links, atomic rename) and <see cref="AuthorizedKeysDocument"/> (nothing else is reordered or
/// dropped). Every change, and every refusal, becomes an audit record and a log line.
/// </summary>
internal sealed class KeyRestorer(AuditLog audit, ILogger logger, TimeProvider time)
{
    public const string AuthorizedKeys = ".ssh/authorized_keys";

    private static readonly SafeFileOptions s_options = new() { LockTimeout = TimeSpan.FromSeconds(2) };

    public RestoreOutcome Restore(UserAccount account, KeyStoreDocument store, string cause, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(account);
        ArgumentNullException.ThrowIfNull(store);
        var started = time.GetTimestamp();
        var now = time.GetUtcNow();
        var wanted = store.Keys.Where(k => k.IsValidAt(now)).Select(k => k.Key).ToList();
        var managed = new HashSet<KeyIdentity>(store.Keys.Select(k => k.Key.Identity).Concat(store.Retired.Select(r => r.Key.Identity)));
        var unwanted = managed.Except(wanted.Select(k => k.Identity)).ToList();
        List<string> restored = [];
        List<string> removed = [];
        byte[]? Build(byte[]? current)
        {
            restored = [];
            removed = [];
            if (current is null && wanted.Count == 0)
            {
                return null;
            }

            var document = current is null ? AuthorizedKeysDocument.Empty : AuthorizedKeysDocument.ParseOwned(current);
            var missing = wanted.Where(k => !document.Contains(k.Identity)).ToList();
            var present = unwanted.Where(document.Contains).ToList();
            if (missing.Count == 0 && present.Count == 0)
            {
                return null;
            }

            document.Remove(present, managed);
            document.EnsurePresent(missing);
            restored = [.. missing.Select(k => k.Sha256Fingerprint)];
            removed = [.. present.Select(i => i.Sha256Fingerprint)];
            return document.ToBytes();
        }

        try
        {
            var target = new UserFileTarget(account.Home, AuthorizedKeys, account.Uid, account.Gid);
            using var previous = CurrentFile.Open(account);
            byte[]? seen = null;
            byte[]? written = null;
            var result = SafeFile.Update(target, current =>
            {
                seen = current;
                written = Build(current);
                return written;
            }, s_options, cancellationToken);

            // A writer that truncated and rewrote the file in place after it was read wrote into the inode the
            // rename just replaced: its content is still there, so it is put back, with the managed keys.
            if (result.Changed && previous is not null && seen is not null && CurrentFile.ReadAll(previous) is { } late && !late.AsSpan().SequenceEqual(seen))
            {
                var firstRestored = restored;
                SafeFile.Update(target, current =>
                    current is not null && written is not null && current.AsSpan().SequenceEqual(written) ? Build(late) ?? late : null,
                    s_options, cancellationToken);
                restored = restored.Count > 0 ? restored : firstRestored;
                GuardLog.RecoveredConcurrentWrite(logger, account.Name);
            }

            var outcome = new RestoreOutcome(account.Name, result.Changed, restored, removed, null);
            if (result.Changed)
            {
                var elapsed = time.GetElapsedTime(started).TotalMilliseconds;
                Audit(new AuditRecord(now, account.Name, restored.Count > 0 ? "restore" : "remove", restored, removed, cause, Math.Round(elapsed, 3), null));
                if (restored.Count > 0)
                {
                    GuardLog.Restored(logger, restored.Count, account.Name, cause, elapsed, string.Join(", ", restored));
                }

                if (removed.Count > 0)
                {
                    GuardLog.Removed(logger, removed.Count, account.Name, string.Join(", ", removed));
                }
            }

            return outcome;
        }
        catch (SafeFileException e)
        {
            // the audit record first: whoever sees the log line finds the record already written
            Audit(new AuditRecord(now, account.Name, "refused", [], [], cause, Math.Round(time.GetElapsedTime(started).TotalMilliseconds, 3), e.Message));
            GuardLog.Refused(logger, account.Name, e.Message);
            return new RestoreOutcome(account.Name, false, [], [], e.Message);
        }
    }

    private void Audit(AuditRecord record)
    {
        if (audit.Append(record) is { } problem)
        {
            GuardLog.AuditFailed(logger, problem);
        }
    }
}
