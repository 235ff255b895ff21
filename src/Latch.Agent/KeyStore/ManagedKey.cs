using System.Globalization;
using Latch.Core.Keys;

namespace Latch.Agent.KeyStore;

/// <summary>
/// A key latchd manages for one user: the key (its line carries <c>expiry-time="…"</c> when it expires, so sshd
/// enforces the expiry even in a copy that outlives latchd), where it came from, and when it is valid.
/// </summary>
internal sealed record ManagedKey(SshPublicKey Key, string Source, DateTimeOffset? NotBefore, DateTimeOffset? ExpiresOn)
{
    /// <summary>Valid at <paramref name="now"/>: not before its start and not at or after its expiry.</summary>
    public bool IsValidAt(DateTimeOffset now) =>
        (NotBefore is not { } nbf || now >= nbf) && (ExpiresOn is not { } exp || now < exp);

    /// <summary>
    /// The key as latchd writes it: the bare key (options dropped) with <c>expiry-time</c> when <paramref name="expiresOn"/>
    /// is set. sshd compares expiry-time with the current time in whole seconds (UTC with the Z suffix).
    /// </summary>
    public static ManagedKey Create(SshPublicKey key, string source, DateTimeOffset? notBefore, DateTimeOffset? expiresOn)
    {
        ArgumentNullException.ThrowIfNull(key);
        KeyStoreDocument.RequireSource(source);
        var bare = key.Type + " " + Convert.ToBase64String(key.Blob.Span) + (key.Comment is { Length: > 0 } c ? " " + c : "");
        var line = expiresOn is { } exp
            ? $"expiry-time=\"{exp.UtcDateTime.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture)}Z\" {bare}"
            : bare;
        return new ManagedKey(SshPublicKey.Parse(line), source, notBefore, expiresOn);
    }
}

/// <summary>A key latchd once put into authorized_keys and must take out again (expired, disabled or deleted at its source).</summary>
internal sealed record RetiredKey(SshPublicKey Key, string Source, DateTimeOffset RetiredAt);
