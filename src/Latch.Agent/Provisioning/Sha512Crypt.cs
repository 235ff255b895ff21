using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Latch.Agent.Provisioning;

/// <summary>
/// SHA-512 crypt (<c>$6$</c>), as specified by Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512" and
/// implemented by glibc: what /etc/shadow, <c>chpasswd -e</c> and <c>openssl passwd -6</c> use.
/// </summary>
internal static class Sha512Crypt
{
    public const int DefaultRounds = 5000;
    public const int MaxSaltLength = 16;

    private const string Alphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    // The spec's byte order for the final base64 encoding: 21 groups of three bytes, then the last byte alone.
    private static readonly (int A, int B, int C)[] s_order =
    [
        (0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4), (47, 5, 26), (6, 27, 48),
        (28, 49, 7), (50, 8, 29), (9, 30, 51), (31, 52, 10), (53, 11, 32), (12, 33, 54), (34, 55, 13),
        (56, 14, 35), (15, 36, 57), (37, 58, 16), (59, 17, 38), (18, 39, 60), (40, 61, 19), (62, 20, 41),
    ];

    /// <summary>A random salt of <paramref name="length"/> characters from the crypt alphabet.</summary>
    public static string NewSalt(int length)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, MaxSaltLength);
        return RandomNumberGenerator.GetString(Alphabet, length);
    }

    /// <summary>
    /// Hashes <paramref name="password"/> with <paramref name="salt"/> (cut to 16 characters, as the spec says).
    /// Rounds other than 5000 appear in the result as <c>rounds=N$</c>.
    /// </summary>
    public static string Hash(string password, string salt, int rounds = DefaultRounds)
    {
        ArgumentNullException.ThrowIfNull(password);
        ArgumentNullException.ThrowIfNull(salt);
        rounds = Math.Clamp(rounds, 1000, 999_999_999);
        var key = Encoding.UTF8.GetBytes(password);
        var saltText = salt.Length > MaxSaltLength ? salt[..MaxSaltLength] : salt;
        var saltBytes = Encoding.UTF8.GetBytes(saltText);
        try
        {
            var digest = Compute(key, saltBytes, rounds);
            var result = new StringBuilder(123);
            result.Append("$6$");
            if (rounds != DefaultRounds)
            {
                result.Append("rounds=").Append(rounds.ToString(CultureInfo.InvariantCulture)).Append('$');
            }

            result.Append(saltText).Append('$');
            foreach (var (a, b, c) in s_order)
            {
                Encode(result, digest[a], digest[b], digest[c], 4);
            }

            Encode(result, 0, 0, digest[63], 2);
            CryptographicOperations.ZeroMemory(digest);
            return result.ToString();
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    private static byte[] Compute(byte[] key, byte[] salt, int rounds)
    {
        // B = H(key salt key)
        byte[] b;
        using (var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA512))
        {
            h.AppendData(key);
            h.AppendData(salt);
            h.AppendData(key);
            b = h.GetHashAndReset();
        }

        // A = H(key salt B-repeated-to-key-length, then B or key for each bit of the key length)
        byte[] a;
        using (var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA512))
        {
            h.AppendData(key);
            h.AppendData(salt);
            AppendRepeated(h, b, key.Length);
            for (var n = key.Length; n > 0; n >>= 1)
            {
                h.AppendData((n & 1) != 0 ? b : key);
            }

            a = h.GetHashAndReset();
        }

        // P = H(key repeated key-length times), cut to the key length
        byte[] p;
        using (var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA512))
        {
            for (var i = 0; i < key.Length; i++)
            {
                h.AppendData(key);
            }

            p = Repeat(h.GetHashAndReset(), key.Length);
        }

        // S = H(salt repeated 16 + A[0] times), cut to the salt length
        byte[] s;
        using (var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA512))
        {
            for (var i = 0; i < 16 + a[0]; i++)
            {
                h.AppendData(salt);
            }

            s = Repeat(h.GetHashAndReset(), salt.Length);
        }

        using (var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA512))
        {
            for (var round = 0; round < rounds; round++)
            {
                var odd = (round & 1) != 0;
                h.AppendData(odd ? p : a);
                if (round % 3 != 0)
                {
                    h.AppendData(s);
                }

                if (round % 7 != 0)
                {
                    h.AppendData(p);
                }

                h.AppendData(odd ? a : p);
                a = h.GetHashAndReset();
            }
        }

        CryptographicOperations.ZeroMemory(p);
        CryptographicOperations.ZeroMemory(b);
        return a;
    }

    private static void AppendRepeated(IncrementalHash hash, byte[] block, int length)
    {
        for (; length > block.Length; length -= block.Length)
        {
            hash.AppendData(block);
        }

        hash.AppendData(block, 0, length);
    }

    private static byte[] Repeat(byte[] block, int length)
    {
        var result = new byte[length];
        for (var i = 0; i < length; i++)
        {
            result[i] = block[i % block.Length];
        }

        return result;
    }

    private static void Encode(StringBuilder output, byte b2, byte b1, byte b0, int characters)
    {
        var w = (b2 << 16) | (b1 << 8) | b0;
        for (var i = 0; i < characters; i++)
        {
            output.Append(Alphabet[w & 0x3f]);
            w >>= 6;
        }
    }
}
