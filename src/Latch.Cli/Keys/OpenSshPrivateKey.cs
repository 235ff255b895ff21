using System.Buffers.Binary;
using System.Text;

namespace Latch.Cli.Keys;

/// <summary>
/// Reads the public half of an OpenSSH private key file (<c>-----BEGIN OPENSSH PRIVATE KEY-----</c>, format
/// openssh-key-v1) without touching the private part: the public key blob sits in the clear header, even when
/// the private section is encrypted. So latch derives a public key in memory with no crypto and no ssh-keygen.
/// </summary>
internal static class OpenSshPrivateKey
{
    private const string Begin = "-----BEGIN OPENSSH PRIVATE KEY-----";
    private const string End = "-----END OPENSSH PRIVATE KEY-----";

    public static bool LooksLikePrivateKey(string text) => text.Contains("PRIVATE KEY-----", StringComparison.Ordinal);

    /// <summary>The public key line <c>type base64</c>, or an error that never quotes the key text.</summary>
    public static bool TryGetPublicKeyLine(string pem, out string line, out string error)
    {
        line = "";
        var start = pem.IndexOf(Begin, StringComparison.Ordinal);
        var end = pem.IndexOf(End, StringComparison.Ordinal);
        if (start < 0 || end < start)
        {
            error = pem.Contains("BEGIN RSA PRIVATE KEY", StringComparison.Ordinal) || pem.Contains("BEGIN EC PRIVATE KEY", StringComparison.Ordinal) || pem.Contains("BEGIN PRIVATE KEY", StringComparison.Ordinal)
                ? "the private key is in PEM/PKCS format; convert it with 'ssh-keygen -p -f FILE' (writes the OpenSSH format) or store the public key instead"
                : "the text is not an OpenSSH private key";
            return false;
        }

        byte[] data;
        try
        {
            data = Convert.FromBase64String(pem[(start + Begin.Length)..end].Replace("\r", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal).Trim());
        }
        catch (FormatException)
        {
            error = "the OpenSSH private key's body is not valid base64";
            return false;
        }

        var magic = "openssh-key-v1\0"u8;
        if (!data.AsSpan().StartsWith(magic))
        {
            error = "the OpenSSH private key does not start with 'openssh-key-v1'";
            return false;
        }

        ReadOnlyMemory<byte> reader = data.AsMemory(magic.Length);
        if (!Skip(ref reader) || !Skip(ref reader) || !Skip(ref reader) || reader.Length < 4)
        {
            error = "the OpenSSH private key header is truncated";
            return false;
        }

        var count = BinaryPrimitives.ReadUInt32BigEndian(reader.Span);
        reader = reader[4..];
        if (count != 1 || !Read(ref reader, out var blob))
        {
            error = count != 1 ? $"the OpenSSH private key file holds {count} keys; latch needs exactly one" : "the OpenSSH private key has no public key";
            return false;
        }

        var blobReader = blob;
        if (!Read(ref blobReader, out var typeBytes) || typeBytes.Length is 0 or > 64)
        {
            error = "the public key inside the private key has no type";
            return false;
        }

        line = $"{Encoding.ASCII.GetString(typeBytes.Span)} {Convert.ToBase64String(blob.Span)}";
        error = "";
        return true;
    }

    private static bool Skip(ref ReadOnlyMemory<byte> reader) => Read(ref reader, out _);

    private static bool Read(ref ReadOnlyMemory<byte> reader, out ReadOnlyMemory<byte> value)
    {
        value = default;
        if (reader.Length < 4)
        {
            return false;
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(reader.Span);
        if (length > reader.Length - 4)
        {
            return false;
        }

        value = reader.Slice(4, (int)length);
        reader = reader[(4 + (int)length)..];
        return true;
    }
}
