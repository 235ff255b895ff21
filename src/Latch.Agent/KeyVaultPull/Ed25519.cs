using System.Numerics;
using System.Security.Cryptography;

namespace Latch.Agent.KeyVaultPull;

/// <summary>
/// The one Ed25519 operation latchd needs (RFC 8032 §5.1.5): the public key of a 32-byte private key (seed), to
/// authorize the key a PKCS#8 PEM secret holds. .NET has no Ed25519 API; this is the textbook affine computation on
/// the twisted Edwards curve. It is not constant-time, which is acceptable for deriving a public value once per
/// pull on the VM that already holds the secret.
/// </summary>
internal static class Ed25519
{
    private static readonly BigInteger s_p = BigInteger.Pow(2, 255) - 19;
    private static readonly BigInteger s_d = Mod(-121665 * Inverse(121666));
    private static readonly BigInteger s_bx = BigInteger.Parse("15112221349535400772501151409588531511454012693041857206046113283949847762202", System.Globalization.CultureInfo.InvariantCulture);
    private static readonly BigInteger s_by = BigInteger.Parse("46316835694926478169428394003475163141307993866256225615783033603165251855960", System.Globalization.CultureInfo.InvariantCulture);

    public static byte[] PublicKeyFromSeed(ReadOnlySpan<byte> seed)
    {
        if (seed.Length != 32)
        {
            throw new ArgumentException("an Ed25519 seed is 32 bytes", nameof(seed));
        }

        Span<byte> hash = stackalloc byte[64];
        SHA512.HashData(seed, hash);
        hash[0] &= 248;
        hash[31] &= 127;
        hash[31] |= 64;
        var scalar = new BigInteger(hash[..32], isUnsigned: true, isBigEndian: false);
        CryptographicOperations.ZeroMemory(hash);

        var (x, y) = (BigInteger.Zero, BigInteger.One);
        var (qx, qy) = (s_bx, s_by);
        while (!scalar.IsZero)
        {
            if (!scalar.IsEven)
            {
                (x, y) = Add(x, y, qx, qy);
            }

            (qx, qy) = Add(qx, qy, qx, qy);
            scalar >>= 1;
        }

        var encoded = new byte[32];
        y.TryWriteBytes(encoded, out _, isUnsigned: true, isBigEndian: false);
        if (!x.IsEven)
        {
            encoded[31] |= 0x80;
        }

        return encoded;
    }

    private static (BigInteger X, BigInteger Y) Add(BigInteger x1, BigInteger y1, BigInteger x2, BigInteger y2)
    {
        var t = Mod(s_d * x1 * x2 * y1 * y2);
        var x3 = Mod((x1 * y2 + y1 * x2) * Inverse(Mod(1 + t)));
        var y3 = Mod((y1 * y2 + x1 * x2) * Inverse(Mod(1 - t)));
        return (x3, y3);
    }

    private static BigInteger Inverse(BigInteger value) => BigInteger.ModPow(value, s_p - 2, s_p);

    private static BigInteger Mod(BigInteger value)
    {
        var r = value % s_p;
        return r.Sign < 0 ? r + s_p : r;
    }
}
