using System.Text;

namespace Latch.Core.Keys;

internal enum KeyAlgorithm
{
    Ed25519,
    Rsa,
    Ecdsa,
    SkEd25519,
    SkEcdsa,
}

/// <summary>One key type name sshd accepts in authorized_keys, with what its blob must contain.</summary>
internal sealed class KeyType
{
    private static readonly KeyType[] s_all =
    [
        new("ssh-ed25519", KeyAlgorithm.Ed25519, false, null),
        new("ssh-rsa", KeyAlgorithm.Rsa, false, null),
        new("ecdsa-sha2-nistp256", KeyAlgorithm.Ecdsa, false, EcCurve.NistP256),
        new("ecdsa-sha2-nistp384", KeyAlgorithm.Ecdsa, false, EcCurve.NistP384),
        new("ecdsa-sha2-nistp521", KeyAlgorithm.Ecdsa, false, EcCurve.NistP521),
        new("sk-ssh-ed25519@openssh.com", KeyAlgorithm.SkEd25519, false, null),
        new("sk-ecdsa-sha2-nistp256@openssh.com", KeyAlgorithm.SkEcdsa, false, EcCurve.NistP256),
        new("ssh-ed25519-cert-v01@openssh.com", KeyAlgorithm.Ed25519, true, null),
        new("ssh-rsa-cert-v01@openssh.com", KeyAlgorithm.Rsa, true, null),
        new("ecdsa-sha2-nistp256-cert-v01@openssh.com", KeyAlgorithm.Ecdsa, true, EcCurve.NistP256),
        new("ecdsa-sha2-nistp384-cert-v01@openssh.com", KeyAlgorithm.Ecdsa, true, EcCurve.NistP384),
        new("ecdsa-sha2-nistp521-cert-v01@openssh.com", KeyAlgorithm.Ecdsa, true, EcCurve.NistP521),
        new("sk-ssh-ed25519-cert-v01@openssh.com", KeyAlgorithm.SkEd25519, true, null),
        new("sk-ecdsa-sha2-nistp256-cert-v01@openssh.com", KeyAlgorithm.SkEcdsa, true, EcCurve.NistP256),
    ];

    // Names people put where a key type belongs that sshd will not take; each gets a specific hint.
    private static readonly (byte[] Name, string Hint)[] s_refused =
    [
        ("ssh-dss"u8.ToArray(), "DSA keys are disabled since OpenSSH 7.0 and removed in 10.0; use ssh-ed25519"),
        ("ssh-dss-cert-v01@openssh.com"u8.ToArray(), "DSA keys are disabled since OpenSSH 7.0 and removed in 10.0; use ssh-ed25519"),
        ("rsa-sha2-256"u8.ToArray(), "that is a signature algorithm, not a key type; write 'ssh-rsa'"),
        ("rsa-sha2-512"u8.ToArray(), "that is a signature algorithm, not a key type; write 'ssh-rsa'"),
    ];

    private KeyType(string name, KeyAlgorithm algorithm, bool isCertificate, EcCurve? curve)
    {
        Name = name;
        NameUtf8 = Encoding.ASCII.GetBytes(name);
        Algorithm = algorithm;
        IsCertificate = isCertificate;
        Curve = curve;
    }

    public string Name { get; }

    /// <summary>The type of the key itself: for a certificate, the type of the key it certifies.</summary>
    public string PlainName => IsCertificate ? Name.Replace("-cert-v01@openssh.com", Name.StartsWith("sk-", StringComparison.Ordinal) ? "@openssh.com" : "", StringComparison.Ordinal) : Name;

    public byte[] NameUtf8 { get; }

    public KeyAlgorithm Algorithm { get; }

    public bool IsCertificate { get; }

    public EcCurve? Curve { get; }

    public static IReadOnlyList<KeyType> All => s_all;

    /// <summary>How ssh-keygen -l names the type in its last column, e.g. ED25519-CERT.</summary>
    public string DisplayName => Algorithm switch
    {
        KeyAlgorithm.Ed25519 => "ED25519",
        KeyAlgorithm.Rsa => "RSA",
        KeyAlgorithm.Ecdsa => "ECDSA",
        KeyAlgorithm.SkEd25519 => "ED25519-SK",
        _ => "ECDSA-SK",
    } + (IsCertificate ? "-CERT" : "");

    public static KeyType? Find(ReadOnlySpan<byte> name)
    {
        // the shortest name is 7 bytes ("ssh-rsa"), the longest 43: reject most non-types on length alone
        if (name.Length is < 7 or > 43)
        {
            return null;
        }

        foreach (var type in s_all)
        {
            if (name.SequenceEqual(type.NameUtf8))
            {
                return type;
            }
        }

        return null;
    }

    public static KeyType? Find(string name)
    {
        foreach (var type in s_all)
        {
            if (string.Equals(type.Name, name, StringComparison.Ordinal))
            {
                return type;
            }
        }

        return null;
    }

    public static string? RefusalHint(ReadOnlySpan<byte> name)
    {
        foreach (var (refused, hint) in s_refused)
        {
            if (name.SequenceEqual(refused))
            {
                return hint;
            }
        }

        return null;
    }

    public override string ToString() => Name;
}
