using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Latch.Bench;

/// <summary>
/// A large, realistic authorized_keys file: mostly ed25519 keys, some RSA-3072 and ECDSA keys, some with
/// options, plus comments and blank lines. Blobs are well-formed (random key material).
/// </summary>
internal static class SyntheticAuthorizedKeys
{
    public static byte[] Build(int lines, int seed = 1)
    {
        var random = new Random(seed);
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var q = ec.ExportParameters(false).Q;
        byte[] point = [0x04, .. q.X!, .. q.Y!];
        var text = new StringBuilder(lines * 120);
        for (var i = 0; i < lines; i++)
        {
            var roll = random.Next(100);
            var line = roll switch
            {
                < 5 => $"# note {i}",
                < 8 => "",
                < 80 => Line(Ed25519(random), $"user{i}@host{i % 97}"),
                < 92 => Line(Rsa(random, 3072), $"deploy{i}@ci", "restrict,command=\"/usr/bin/rrsync -ro /srv\""),
                _ => Line(Concat(String("ecdsa-sha2-nistp256"u8), String("nistp256"u8), String(point)), $"nas{i}", "from=\"10.0.0.0/8\""),
            };
            text.Append(line).Append('\n');
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }

    public static byte[] Ed25519(Random random)
    {
        var key = new byte[32];
        random.NextBytes(key);
        return Concat(String("ssh-ed25519"u8), String(key));
    }

    private static byte[] Rsa(Random random, int bits)
    {
        var modulus = new byte[(bits / 8) + 1];
        random.NextBytes(modulus.AsSpan(1));
        modulus[1] |= 0x80;
        return Concat(String("ssh-rsa"u8), String([1, 0, 1]), String(modulus));
    }

    private static string Line(byte[] blob, string comment, string? options = null)
    {
        var type = Encoding.ASCII.GetString(blob, 4, BinaryPrimitives.ReadInt32BigEndian(blob));
        var line = $"{type} {Convert.ToBase64String(blob)} {comment}";
        return options is null ? line : options + " " + line;
    }

    private static byte[] String(ReadOnlySpan<byte> value)
    {
        var bytes = new byte[4 + value.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, value.Length);
        value.CopyTo(bytes.AsSpan(4));
        return bytes;
    }

    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
}
