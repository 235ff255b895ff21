using System.Buffers.Binary;
using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Text;
using Latch.Core.Keys;

namespace Latch.Agent.KeyVaultPull;

/// <summary>
/// Turns a Key Vault secret's value into the SSH public key to authorize: an OpenSSH public key line as it is, or a
/// private key (OpenSSH format, or PEM RSA PKCS#1/PKCS#8, or PEM Ed25519 PKCS#8) whose public key is derived in
/// memory. The private key never leaves this method: it is not stored, logged or put into an error message.
/// </summary>
internal static class SecretKeyParser
{
    private const string RsaOid = "1.2.840.113549.1.1.1";
    private const string Ed25519Oid = "1.3.101.112";

    /// <summary>The public key (with <paramref name="comment"/>), or an error that names the format problem only.</summary>
    public static bool TryParse(string value, string comment, out SshPublicKey? key, out string? error)
    {
        key = null;
        var text = value.Trim();
        try
        {
            byte[] blob;
            if (text.StartsWith("-----BEGIN OPENSSH PRIVATE KEY-----", StringComparison.Ordinal))
            {
                blob = OpenSshPublicBlob(Pem(text, "OPENSSH PRIVATE KEY"));
            }
            else if (text.StartsWith("-----BEGIN RSA PRIVATE KEY-----", StringComparison.Ordinal))
            {
                using var rsa = RSA.Create();
                rsa.ImportRSAPrivateKey(Pem(text, "RSA PRIVATE KEY"), out _);
                blob = RsaBlob(rsa);
            }
            else if (text.StartsWith("-----BEGIN PRIVATE KEY-----", StringComparison.Ordinal))
            {
                blob = Pkcs8PublicBlob(Pem(text, "PRIVATE KEY"));
            }
            else if (text.StartsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----", StringComparison.Ordinal) || text.Contains("Proc-Type: 4,ENCRYPTED", StringComparison.Ordinal))
            {
                error = "the private key is encrypted; store it without a passphrase, or store the public key";
                return false;
            }
            else
            {
                if (text.Contains('\n', StringComparison.Ordinal))
                {
                    error = "the value has several lines but is not a PEM or OpenSSH private key; store one public key line";
                    return false;
                }

                if (!KeyValidator.TryValidate(text, KeyValidationOptions.Default, out key, out var invalid))
                {
                    error = "the value is not a usable public key: " + invalid;
                    return false;
                }

                // the secret's own comment is replaced: the source (the secret name) is what identifies it here
                key = SshPublicKey.Parse(key.Type + " " + Convert.ToBase64String(key.Blob.Span) + " " + comment);
                error = null;
                return true;
            }

            key = SshPublicKey.Parse(Encoding.ASCII.GetString(SshWire.String(blob, 0, out _)) + " " + Convert.ToBase64String(blob) + " " + comment);
            error = null;
            return true;
        }
        catch (Exception e) when (e is CryptographicException or FormatException or AsnContentException or ArgumentException or IndexOutOfRangeException or Latch.Core.KeyFormatException)
        {
            // the exception text may quote parts of the input: report only its kind
            error = $"the private key could not be read ({e.GetType().Name}); check that it is a complete, unencrypted OpenSSH or PEM key";
            return false;
        }
    }

    private static byte[] Pem(string text, string label)
    {
        var begin = $"-----BEGIN {label}-----";
        var end = $"-----END {label}-----";
        var start = text.IndexOf(begin, StringComparison.Ordinal) + begin.Length;
        var stop = text.IndexOf(end, start, StringComparison.Ordinal);
        if (stop < 0)
        {
            throw new FormatException("no PEM end line");
        }

        return Convert.FromBase64String(string.Concat(text[start..stop].Where(c => !char.IsWhiteSpace(c))));
    }

    /// <summary>openssh-key-v1: magic, cipher, kdf, kdf options, key count, then the public key blobs in the clear.</summary>
    private static byte[] OpenSshPublicBlob(byte[] data)
    {
        var magic = "openssh-key-v1\0"u8;
        if (!data.AsSpan().StartsWith(magic))
        {
            throw new FormatException("not openssh-key-v1");
        }

        var at = magic.Length;
        _ = SshWire.String(data, at, out at);
        _ = SshWire.String(data, at, out at);
        _ = SshWire.String(data, at, out at);
        var count = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(at));
        at += 4;
        if (count < 1)
        {
            throw new FormatException("no keys");
        }

        return SshWire.String(data, at, out _).ToArray();
    }

    private static byte[] Pkcs8PublicBlob(byte[] der)
    {
        var reader = new AsnReader(der, AsnEncodingRules.DER);
        var info = reader.ReadSequence();
        _ = info.ReadInteger();
        var algorithm = info.ReadSequence();
        var oid = algorithm.ReadObjectIdentifier();
        switch (oid)
        {
            case RsaOid:
                using (var rsa = RSA.Create())
                {
                    rsa.ImportPkcs8PrivateKey(der, out _);
                    return RsaBlob(rsa);
                }

            case Ed25519Oid:
                var inner = new AsnReader(info.ReadOctetString(), AsnEncodingRules.DER).ReadOctetString();
                if (inner.Length != 32)
                {
                    throw new FormatException("an Ed25519 private key is 32 bytes");
                }

                var publicKey = Ed25519.PublicKeyFromSeed(inner);
                CryptographicOperations.ZeroMemory(inner);
                return SshWire.Blob("ssh-ed25519", publicKey);
            default:
                throw new FormatException("unsupported algorithm");
        }
    }

    private static byte[] RsaBlob(RSA rsa)
    {
        var parameters = rsa.ExportParameters(includePrivateParameters: false);
        return SshWire.Blob("ssh-rsa", SshWire.Mpint(parameters.Exponent!), SshWire.Mpint(parameters.Modulus!));
    }

    private static class SshWire
    {
        public static ReadOnlySpan<byte> String(byte[] data, int at, out int next)
        {
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(at));
            if (length < 0 || at + 4 + length > data.Length)
            {
                throw new FormatException("string runs past the end");
            }

            next = at + 4 + length;
            return data.AsSpan(at + 4, length);
        }

        /// <summary>An SSH mpint's payload: big-endian, no leading zero bytes except one that keeps it positive.</summary>
        public static byte[] Mpint(byte[] unsigned)
        {
            var start = 0;
            while (start < unsigned.Length - 1 && unsigned[start] == 0)
            {
                start++;
            }

            var trimmed = unsigned.AsSpan(start);
            return (trimmed[0] & 0x80) != 0 ? [0, .. trimmed] : trimmed.ToArray();
        }

        /// <summary>string type followed by each part as an SSH string (for ed25519 the raw key, for RSA the mpints e and n).</summary>
        public static byte[] Blob(string type, params ReadOnlySpan<byte[]> parts)
        {
            using var stream = new MemoryStream();
            Write(stream, Encoding.ASCII.GetBytes(type));
            foreach (var part in parts)
            {
                Write(stream, part);
            }

            return stream.ToArray();
        }

        private static void Write(MemoryStream stream, byte[] bytes)
        {
            Span<byte> length = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(length, (uint)bytes.Length);
            stream.Write(length);
            stream.Write(bytes);
        }
    }
}
