namespace Latch.Core.Keys;

/// <summary>What the blob of a well-formed key says about it.</summary>
internal readonly record struct BlobFacts(int Bits, string? Warning);

/// <summary>
/// Checks a decoded key blob the way sshd's sshkey_from_blob does: the type name inside equals the line's,
/// each field of the type is present with the right shape, and nothing follows. A certificate's CA signature
/// is not verified (sshd does that when the certificate is used); its structure is.
/// </summary>
internal static class KeyBlobChecker
{
    // sshbuf refuses bignums over 16384 bits (SSHBUF_MAX_BIGNUM)
    private const int MaxRsaBits = 16384;
    private const int MinRsaBits = 1024;
    private const int Ed25519KeySize = 32;

    /// <summary>Returns null when the blob is valid; otherwise what is wrong with it.</summary>
    /// <param name="deep">Also check that ECDSA points lie on their curve (slower; see EcCurve).</param>
    public static string? Check(KeyType lineType, ReadOnlySpan<byte> blob, bool deep, out BlobFacts facts)
    {
        facts = default;
        if (blob.IsEmpty)
        {
            return "base64 blob is empty";
        }

        var reader = new SshWireReader(blob);
        if (!reader.TryReadString(out var typeName))
        {
            return "base64 blob is truncated (it ends inside the key type name)";
        }

        if (!typeName.SequenceEqual(lineType.NameUtf8))
        {
            return $"key type mismatch: the line says '{lineType.Name}' but the blob says '{ByteText.Printable(typeName)}'";
        }

        if (lineType.IsCertificate && !reader.TryReadString(out _))
        {
            return Truncated(lineType, reader.ShortBy);
        }

        var error = ReadPublicFields(lineType, ref reader, deep, out facts);
        if (error is null && lineType.IsCertificate)
        {
            error = ReadCertificateFields(ref reader, deep);
        }

        if (error is not null)
        {
            return error.Length == 0 ? Truncated(lineType, reader.ShortBy) : error;
        }

        return reader.Remaining > 0
            ? $"base64 blob has {ByteText.Plural(reader.Remaining, "byte")} of trailing data after the '{lineType.Name}' key"
            : null;
    }

    /// <summary>
    /// The blob ssh-keygen hashes for a fingerprint: the plain key (for a certificate, the certified key without
    /// the certificate parts), with RSA numbers in minimal form. For most keys that is the blob itself.
    /// </summary>
    public static ReadOnlyMemory<byte> FingerprintBlob(KeyType type, ReadOnlyMemory<byte> blob)
    {
        if (!type.IsCertificate && type.Algorithm != KeyAlgorithm.Rsa)
        {
            return blob;
        }

        var reader = new SshWireReader(blob.Span);
        reader.TryReadString(out _);
        if (type.IsCertificate)
        {
            reader.TryReadString(out _);
        }

        var fieldsStart = reader.Position;
        var plain = new List<byte>(blob.Length);
        plain.AddRange(WireString(System.Text.Encoding.ASCII.GetBytes(type.PlainName)));
        if (type.Algorithm == KeyAlgorithm.Rsa)
        {
            reader.TryReadMpint(out var e, out _);
            reader.TryReadMpint(out var n, out _);
            plain.AddRange(WireMpint(e));
            plain.AddRange(WireMpint(n));
        }
        else
        {
            ReadPublicFields(type, ref reader, deep: false, out _);
            plain.AddRange(blob.Span[fieldsStart..reader.Position]);
        }

        var result = plain.ToArray();
        return result.AsSpan().SequenceEqual(blob.Span) ? blob : result;
    }

    private static byte[] WireString(ReadOnlySpan<byte> value)
    {
        var bytes = new byte[4 + value.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)value.Length);
        value.CopyTo(bytes.AsSpan(4));
        return bytes;
    }

    private static byte[] WireMpint(ReadOnlySpan<byte> magnitude) =>
        magnitude.Length > 0 && (magnitude[0] & 0x80) != 0 ? WireString([0, .. magnitude]) : WireString(magnitude);

    private static string Truncated(KeyType type, long shortBy) =>
        $"base64 blob is truncated (blob says '{type.Name}' but the key is {ByteText.Plural(shortBy, "byte")} short)";

    // Each reader returns null when fine, "" when the data ran out (the caller words it), or a message.
    private static string? ReadPublicFields(KeyType type, ref SshWireReader reader, bool deep, out BlobFacts facts)
    {
        facts = default;
        switch (type.Algorithm)
        {
            case KeyAlgorithm.Ed25519:
            case KeyAlgorithm.SkEd25519:
                if (!reader.TryReadString(out var pk))
                {
                    return "";
                }

                if (pk.Length != Ed25519KeySize)
                {
                    return $"ed25519 public key is {ByteText.Plural(pk.Length, "byte")}; it must be 32";
                }

                facts = new BlobFacts(256, null);
                return type.Algorithm == KeyAlgorithm.SkEd25519 ? ReadApplication(ref reader) : null;

            case KeyAlgorithm.Ecdsa:
            case KeyAlgorithm.SkEcdsa:
                var curve = type.Curve!;
                if (!reader.TryReadString(out var curveName) || !reader.TryReadString(out var point))
                {
                    return "";
                }

                if (!curveName.SequenceEqual(curve.NameUtf8))
                {
                    return $"ECDSA curve '{ByteText.Printable(curveName)}' does not match key type '{type.Name}' (it needs '{curve.Name}')";
                }

                if (point.Length != curve.PointSize)
                {
                    return $"ECDSA point is {ByteText.Plural(point.Length, "byte")}; {curve.Name} needs {curve.PointSize} (0x04 and two {curve.CoordinateSize}-byte coordinates)";
                }

                if (point[0] != 0x04)
                {
                    return $"ECDSA point must be uncompressed (first byte 0x04, found 0x{point[0]:x2})";
                }

                if (deep && curve.CheckPoint(point) is { } pointError)
                {
                    return pointError;
                }

                facts = new BlobFacts(curve.Bits, null);
                return type.Algorithm == KeyAlgorithm.SkEcdsa ? ReadApplication(ref reader) : null;

            default:
                return ReadRsa(ref reader, out facts);
        }
    }

    private static string? ReadRsa(ref SshWireReader reader, out BlobFacts facts)
    {
        facts = default;
        if (!reader.TryReadMpint(out var e, out var eNegative) || !reader.TryReadMpint(out var n, out var nNegative))
        {
            return "";
        }

        if (eNegative || nNegative)
        {
            return $"RSA {(eNegative ? "exponent" : "modulus")} is negative";
        }

        if (e.IsEmpty)
        {
            return "RSA exponent is zero";
        }

        if (n.IsEmpty)
        {
            return "RSA modulus is zero";
        }

        var bits = ((n.Length - 1) * 8) + (32 - System.Numerics.BitOperations.LeadingZeroCount((uint)n[0]));
        if (bits > MaxRsaBits)
        {
            return $"RSA modulus is {bits} bits; OpenSSH accepts at most {MaxRsaBits}";
        }

        facts = new BlobFacts(bits, bits < MinRsaBits ? $"RSA modulus is {bits} bits; sshd refuses RSA keys shorter than {MinRsaBits} bits" : null);
        return null;
    }

    private static string? ReadApplication(ref SshWireReader reader)
    {
        if (!reader.TryReadString(out var application))
        {
            return "";
        }

        return application.Contains((byte)0) ? "security key application name contains a NUL byte" : null;
    }

    // PROTOCOL.certkeys: serial, type, key id, principals, valid after, valid before, critical options,
    // extensions, reserved, signature key, signature.
    private static string? ReadCertificateFields(ref SshWireReader reader, bool deep)
    {
        if (!reader.TryReadUInt64(out _) || !reader.TryReadUInt32(out var certType) || !reader.TryReadString(out var keyId)
            || !reader.TryReadString(out var principals) || !reader.TryReadUInt64(out _) || !reader.TryReadUInt64(out _)
            || !reader.TryReadString(out var critical) || !reader.TryReadString(out var extensions) || !reader.TryReadString(out _)
            || !reader.TryReadString(out var caKey) || !reader.TryReadString(out var signature))
        {
            return "";
        }

        if (certType is not (1 or 2))
        {
            return $"certificate type {certType} is neither user (1) nor host (2)";
        }

        if (keyId.Contains((byte)0))
        {
            return "certificate key id contains a NUL byte";
        }

        var list = new SshWireReader(principals);
        while (list.Remaining > 0)
        {
            if (!list.TryReadString(out var principal) || principal.Contains((byte)0))
            {
                return "certificate principals list is malformed";
            }
        }

        if (!IsPairList(critical))
        {
            return "certificate critical options are malformed";
        }

        if (!IsPairList(extensions))
        {
            return "certificate extensions are malformed";
        }

        if (CheckCaKey(caKey, deep) is { } caError)
        {
            return "certificate CA key is invalid: " + caError;
        }

        var sig = new SshWireReader(signature);
        return sig.TryReadString(out var sigType) && sigType.Length > 0 && sig.TryReadString(out _) && sig.Remaining == 0
            ? null
            : "certificate signature is malformed";
    }

    private static bool IsPairList(ReadOnlySpan<byte> data)
    {
        var reader = new SshWireReader(data);
        while (reader.Remaining > 0)
        {
            if (!reader.TryReadString(out _) || !reader.TryReadString(out _))
            {
                return false;
            }
        }

        return true;
    }

    private static string? CheckCaKey(ReadOnlySpan<byte> blob, bool deep)
    {
        var reader = new SshWireReader(blob);
        if (!reader.TryReadString(out var typeName))
        {
            return "it is truncated";
        }

        var type = KeyType.Find(typeName);
        if (type is null || type.IsCertificate)
        {
            return $"'{ByteText.Printable(typeName)}' cannot sign certificates";
        }

        var error = ReadPublicFields(type, ref reader, deep, out _);
        if (error is not null)
        {
            return error.Length == 0 ? $"its '{type.Name}' key is {ByteText.Plural(reader.ShortBy, "byte")} short" : error;
        }

        return reader.Remaining > 0 ? $"{ByteText.Plural(reader.Remaining, "byte")} of trailing data" : null;
    }
}
