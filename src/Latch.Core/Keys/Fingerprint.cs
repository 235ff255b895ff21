using System.Security.Cryptography;

namespace Latch.Core.Keys;

/// <summary>Key fingerprints exactly as <c>ssh-keygen -l -E sha256|md5</c> prints them.</summary>
public static class Fingerprint
{
    /// <summary><c>SHA256:</c> followed by the unpadded base64 of the SHA-256 of the blob.</summary>
    public static string Sha256(ReadOnlySpan<byte> blob)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(blob, hash);
        Span<char> text = stackalloc char[7 + 44];
        "SHA256:".CopyTo(text);
        Convert.TryToBase64Chars(hash, text[7..], out var written);
        while (text[7 + written - 1] == '=')
        {
            written--;
        }

        return new string(text[..(7 + written)]);
    }

    /// <summary><c>MD5:</c> followed by the MD5 of the blob as colon-separated lowercase hex pairs.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5351:Do Not Use Broken Cryptographic Algorithms", Justification = "MD5 fingerprints are a display format ssh-keygen still offers; nothing is secured by them")]
    public static string Md5(ReadOnlySpan<byte> blob)
    {
        Span<byte> hash = stackalloc byte[MD5.HashSizeInBytes];
        MD5.HashData(blob, hash);
        const string Hex = "0123456789abcdef";
        Span<char> text = stackalloc char[4 + (MD5.HashSizeInBytes * 3) - 1];
        "MD5:".CopyTo(text);
        var at = 4;
        for (var i = 0; i < hash.Length; i++)
        {
            if (i > 0)
            {
                text[at++] = ':';
            }

            text[at++] = Hex[hash[i] >> 4];
            text[at++] = Hex[hash[i] & 0xf];
        }

        return new string(text);
    }
}
