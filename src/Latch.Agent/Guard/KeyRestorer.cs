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

    /// <summary>How long the inode a restore replaced is watched for a writer that still had it open.</summary>
    public static readonly TimeSpan LateWriteWindow = TimeSpan.FromSeconds(10);

    public RestoreOutcome Restore(UserAccount account, KeyStoreDocument store, string cause, CancellationToken cancellationToken = default)
    {
        var outcome = Restore(account, store, cause, held: null, out var replaced, cancellationToken);
        replaced?.Dispose();
        return outcome;
    }

    /// <summary>
    /// Restores, first putting back what a late writer wrote into <paramref name="held"/> (the inode an earlier
    /// restore replaced). <paramref name="replaced"/> is the inode this restore replaced, open, for the caller to
    /// hold for <see cref="LateWriteWindow"/> and pass back as <paramref name="held"/>; null when nothing was replaced.
    /// </summary>
    public RestoreOutcome Restore(UserAccount account, KeyStoreDocument store, string cause, ReplacedFile? held, out ReplacedFile? replaced, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(account);
        ArgumentNullException.ThrowIfNull(store);
        replaced = null;
        var started = time.GetTimestamp();
        var now = time.GetUtcNow();
        var wanted = store.Keys.Where(k => k.IsValidAt(now)).Select(k => k.Key).ToList();
        var managed = new HashSet<KeyIdentity>(store.Keys.Select(k => k.Key.Identity).Concat(store.Retired.Select(r => r.Key.Identity)));
        var unwanted = managed.Except(wanted.Select(k => k.Identity)).ToList();
        List<string> restored = [];
        List<string> removed = [];
        byte[]? Build(byte[]? current)
        {
            var document = current is null ? AuthorizedKeysDocument.Empty : AuthorizedKeysDocument.ParseOwned(current);
            var missing = wanted.Where(k => !document.Contains(k.Identity)).ToList();
            var present = unwanted.Where(document.Contains).ToList();
            if (missing.Count == 0 && present.Count == 0)
            {
                return null;
            }

            document.Remove(present, managed);
            document.EnsurePresent(missing);
            restored = [.. restored.Union(missing.Select(k => k.Sha256Fingerprint))];
            removed = [.. removed.Union(present.Select(i => i.Sha256Fingerprint))];
            return document.ToBytes();
        }

        var target = new UserFileTarget(account.Home, AuthorizedKeys, account.Uid, account.Gid);

        // A writer that truncated and rewrote the file in place after a restore read it wrote into the inode the
        // restore's rename replaced: its content is put back, with the managed keys, unless the file was replaced since.
        bool PutBackLateWrite(ReplacedFile inode)
        {
            if (inode.TakeLateWrite() is not { } late)
            {
                return false;
            }

            byte[]? putBack = null;
            var result = SafeFile.Update(target, current =>
                putBack = current is not null && current.AsSpan().SequenceEqual(inode.Written) ? Build(late) ?? late : null,
                s_options, cancellationToken);
            if (!result.Changed)
            {
                return false;
            }

            inode.Written = putBack!;
            GuardLog.RecoveredConcurrentWrite(logger, account.Name);
            return true;
        }

        try
        {
            var changed = held is not null && PutBackLateWrite(held);
            var previous = CurrentFile.Open(account);
            try
            {
                byte[]? seen = null;
                byte[]? written = null;
                var result = SafeFile.Update(target, current =>
                {
                    seen = current;
                    return written = Build(current);
                }, s_options, cancellationToken);
                if (result.Changed && previous is not null && seen is not null)
                {
                    replaced = new ReplacedFile(previous, seen, written!, started + (long)(LateWriteWindow.TotalSeconds * time.TimestampFrequency));
                    previous = null;
                    PutBackLateWrite(replaced);
                }

                changed |= result.Changed;
            }
            finally
            {
                previous?.Dispose();
            }

            var outcome = new RestoreOutcome(account.Name, changed, restored, removed, null);
            if (changed)
            {
                var elapsed = time.GetElapsedTime(started).TotalMilliseconds;
                var action = restored.Count > 0 ? "restore" : removed.Count > 0 ? "remove" : "keep-late-write";
                Audit(new AuditRecord(now, account.Name, action, restored, removed, cause, Math.Round(elapsed, 3), null));
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
            replaced?.Dispose();
            replaced = null;
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
