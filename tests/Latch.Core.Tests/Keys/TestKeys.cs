using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Latch.Core.Tests.Keys;

/// <summary>Builds key blobs in the SSH wire format, so tests can make any key (or broken key) they need.</summary>
internal static class TestKeys
{
    private static readonly Lazy<byte[]> s_rsa2048Modulus = new(() =>
    {
        using var rsa = RSA.Create(2048);
        return rsa.ExportParameters(false).Modulus!;
    });

    public static byte[] String(ReadOnlySpan<byte> value)
    {
        var bytes = new byte[4 + value.Length];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)value.Length);
        value.CopyTo(bytes.AsSpan(4));
        return bytes;
    }

    public static byte[] String(string value) => String(Encoding.ASCII.GetBytes(value));

    public static byte[] Mpint(ReadOnlySpan<byte> magnitude)
    {
        var trimmed = magnitude.TrimStart((byte)0);
        return trimmed.Length > 0 && (trimmed[0] & 0x80) != 0 ? String([0, .. trimmed]) : String(trimmed);
    }

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    public static byte[] Ed25519Blob(byte[]? publicKey = null) =>
        Concat(String("ssh-ed25519"), String(publicKey ?? RandomNumberGenerator.GetBytes(32)));

    public static byte[] SkEd25519Blob(string application = "ssh:") =>
        Concat(String("sk-ssh-ed25519@openssh.com"), String(RandomNumberGenerator.GetBytes(32)), String(application));

    public static byte[] EcdsaPoint(int bits)
    {
        var curve = bits switch
        {
            256 => ECCurve.NamedCurves.nistP256,
            384 => ECCurve.NamedCurves.nistP384,
            _ => ECCurve.NamedCurves.nistP521,
        };
        using var ec = ECDsa.Create(curve);
        var q = ec.ExportParameters(false).Q;
        return [0x04, .. q.X!, .. q.Y!];
    }

    public static byte[] EcdsaBlob(int bits) =>
        Concat(String($"ecdsa-sha2-nistp{bits}"), String($"nistp{bits}"), String(EcdsaPoint(bits)));

    public static byte[] SkEcdsaBlob(string application = "ssh:") =>
        Concat(String("sk-ecdsa-sha2-nistp256@openssh.com"), String("nistp256"), String(EcdsaPoint(256)), String(application));

    /// <summary>An RSA blob with a fresh random modulus of the given size (structure only, not a real key pair).</summary>
    public static byte[] RsaBlob(int bits = 2048)
    {
        var modulus = bits == 2048 ? (byte[])s_rsa2048Modulus.Value.Clone() : RandomNumberGenerator.GetBytes(bits / 8);
        RandomNumberGenerator.Fill(modulus.AsSpan(modulus.Length - 16));
        modulus[0] |= 0x80;
        return Concat(String("ssh-rsa"), Mpint([1, 0, 1]), Mpint(modulus));
    }

    /// <summary>A structurally valid ed25519 user certificate (the CA signature is random bytes, not a signature).</summary>
    public static byte[] Ed25519CertBlob()
    {
        var u64 = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(u64, 42);
        byte[] userType = [0, 0, 0, 1];
        return Concat(
            String("ssh-ed25519-cert-v01@openssh.com"), String(RandomNumberGenerator.GetBytes(32)), String(RandomNumberGenerator.GetBytes(32)),
            u64, userType, String("key-id"), String(String("alice")), u64, [.. u64.Select(_ => (byte)0xff)],
            String([]), String(String("permit-pty").Concat(String([])).ToArray()), String([]),
            String(Ed25519Blob()), String(Concat(String("ssh-ed25519"), String(RandomNumberGenerator.GetBytes(64)))));
    }

    public static string Line(byte[] blob, string? comment = null, string? options = null)
    {
        var type = Encoding.ASCII.GetString(blob, 4, (int)BinaryPrimitives.ReadUInt32BigEndian(blob));
        var line = $"{type} {Convert.ToBase64String(blob)}";
        if (options is not null)
        {
            line = options + " " + line;
        }

        return comment is null ? line : line + " " + comment;
    }

    public static SshPublicKey Key(byte[] blob, string? comment = null, string? options = null) =>
        SshPublicKey.Parse(Line(blob, comment, options));

    public static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);
}
