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
    {
        _ = owned;
        _type = type;
        _blob = blob;
        var hash = new HashCode();
        hash.AddBytes(blob.Span);
        hash.Add(type.Length);
        _hash = hash.ToHashCode();
    }

    public string Type => _type ?? "";

    public ReadOnlyMemory<byte> Blob => _blob;

    public string Sha256Fingerprint => Fingerprint.Sha256(_blob.Span);

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
