namespace Latch.Core.Keys;

/// <summary>
/// What makes two key lines the same key: the key type and the decoded blob. Options and comment do not
/// count, so <c>restrict ssh-ed25519 AAAA… alice</c> and <c>ssh-ed25519 AAAA… bob</c> are one identity.
/// </summary>
public readonly struct KeyIdentity : IEquatable<KeyIdentity>
{
    private readonly string? _type;
    private readonly ReadOnlyMemory<byte> _blob;
    private readonly int _hash;

    /// <summary>An identity over a copy of <paramref name="blob"/>.</summary>
    public KeyIdentity(string type, ReadOnlySpan<byte> blob)
        : this(type ?? throw new ArgumentNullException(nameof(type)), blob.ToArray(), owned: true)
    {
    }

    // The caller guarantees nobody writes to blob afterwards.
    internal KeyIdentity(string type, ReadOnlyMemory<byte> blob, bool owned)
        : this(type, blob, Hash(blob.Span))
    {
        _ = owned;
    }

    internal KeyIdentity(string type, ReadOnlyMemory<byte> blob, int hash)
    {
        _type = type;
        _blob = blob;
        _hash = hash;
    }

    /// <summary>
    /// Marvin (the randomised string hash) over the length and the last 32 bytes of the blob, where every key
    /// type keeps its key material (or, for a certificate, its signature). Constant time per key, and seeded
    /// per process, so a file crafted to collide cannot slow the HashSet behind EnsurePresent down much.
    /// </summary>
    internal static int Hash(ReadOnlySpan<byte> blob)
    {
        var tail = blob[^Math.Min(blob.Length, 32)..];
        if ((tail.Length & 1) != 0)
        {
            tail = tail[1..];
        }

        var hash = string.GetHashCode(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, char>(tail));
        return HashCode.Combine(hash, blob.Length);
    }

    public string Type => _type ?? "";

    public ReadOnlyMemory<byte> Blob => _blob;

    /// <summary>As ssh-keygen -l prints it (for a certificate, that of the certified key).</summary>
    public string Sha256Fingerprint => KeyType.Find(Type) is { } type
        ? Fingerprint.Sha256(KeyBlobChecker.FingerprintBlob(type, _blob).Span)
        : Fingerprint.Sha256(_blob.Span);

    public static bool operator ==(KeyIdentity left, KeyIdentity right) => left.Equals(right);

    public static bool operator !=(KeyIdentity left, KeyIdentity right) => !left.Equals(right);

    public bool Equals(KeyIdentity other) =>
        _hash == other._hash
        && string.Equals(Type, other.Type, StringComparison.Ordinal)
        && _blob.Span.SequenceEqual(other._blob.Span);

    public override bool Equals(object? obj) => obj is KeyIdentity other && Equals(other);

    public override int GetHashCode() => _hash;

    public override string ToString() => _type is null ? "(no key)" : $"{Type} {Sha256Fingerprint}";
}
