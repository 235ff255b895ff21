using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Latch.Core.Keys;

/// <summary>
/// One valid public key line: the key (type and decoded blob), the options before it and the comment after
/// it. Immutable. Two keys are the same key when their <see cref="Identity"/> is equal.
/// </summary>
public sealed class SshPublicKey
{
    private readonly KeyType _type;
    private readonly ReadOnlyMemory<byte> _optionsText;
    private readonly ReadOnlyMemory<byte>? _commentText;
    private IReadOnlyList<KeyOption>? _options;
    private string? _comment;
    private string? _sha256;
    private string? _md5;

    // 0 until the identity hash is first needed (most parsed keys are never hashed); then 1 << 32 | hash
    private long _hashState;

    internal SshPublicKey(
        KeyType type, ReadOnlyMemory<byte> blob, ReadOnlyMemory<byte> optionsText, ReadOnlyMemory<byte>? commentText, BlobFacts facts)
    {
        _type = type;
        Blob = blob;
        _optionsText = optionsText;
        _commentText = commentText;
        Bits = facts.Bits;
        Warning = facts.Warning;
    }

    /// <summary>The key type as written on the line, e.g. <c>ssh-ed25519</c>.</summary>
    public string Type => _type.Name;

    /// <summary>The decoded key blob (SSH wire format).</summary>
    public ReadOnlyMemory<byte> Blob { get; }

    /// <summary>The comment after the key, verbatim (invalid UTF-8 shows as U+FFFD here; the file keeps the bytes).</summary>
    public string? Comment => _commentText is { } text ? _comment ??= Encoding.UTF8.GetString(text.Span) : null;

    /// <summary>The options, each once per occurrence, in line order; empty when there are none.</summary>
    public IReadOnlyList<KeyOption> Options => _options ??= ParseOptions(_optionsText.Span);

    /// <summary>The options exactly as written, e.g. <c>restrict,command="uptime"</c>; empty when there are none.</summary>
    public string OptionsText => _optionsText.IsEmpty ? "" : Encoding.UTF8.GetString(_optionsText.Span);

    public bool IsCertificate => _type.IsCertificate;

    /// <summary>Key size as ssh-keygen -l reports it (256 for ed25519, the modulus size for RSA, the curve size for ECDSA).</summary>
    public int Bits { get; }

    /// <summary>How ssh-keygen -l names the type, e.g. <c>ED25519</c> or <c>RSA-CERT</c>.</summary>
    public string DisplayType => _type.DisplayName;

    /// <summary>Something wrong that does not make the line invalid, e.g. an RSA key too short for sshd.</summary>
    public string? Warning { get; }

    public KeyIdentity Identity
    {
        get
        {
            var state = Volatile.Read(ref _hashState);
            if (state == 0)
            {
                state = (1L << 32) | (uint)KeyIdentity.Hash(Blob.Span);
                Volatile.Write(ref _hashState, state);
            }

            return new KeyIdentity(_type.Name, Blob, (int)state);
        }
    }

    /// <summary>As <c>ssh-keygen -l -E sha256</c> prints it; for a certificate, that of the certified key.</summary>
    public string Sha256Fingerprint => _sha256 ??= Fingerprint.Sha256(FingerprintBlob.Span);

    /// <summary>As <c>ssh-keygen -l -E md5</c> prints it; for a certificate, that of the certified key.</summary>
    public string Md5Fingerprint => _md5 ??= Fingerprint.Md5(FingerprintBlob.Span);

    /// <summary>The blob the fingerprints hash: the key itself, without certificate parts (see ssh-keygen).</summary>
    public ReadOnlyMemory<byte> FingerprintBlob => KeyBlobChecker.FingerprintBlob(_type, Blob);

    internal KeyType KeyType => _type;

    /// <summary>Parses one key line (options allowed, no line break); throws <see cref="Latch.Core.KeyFormatException"/> naming the problem.</summary>
    public static SshPublicKey Parse(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        return TryParse(line, out var key, out var error) ? key : throw new Latch.Core.KeyFormatException(error);
    }

    public static bool TryParse(string line, [NotNullWhen(true)] out SshPublicKey? key, [NotNullWhen(false)] out KeyParseError? error)
    {
        ArgumentNullException.ThrowIfNull(line);
        return TryParse(Encoding.UTF8.GetBytes(line), out key, out error);
    }

    public static bool TryParse(ReadOnlySpan<byte> line, [NotNullWhen(true)] out SshPublicKey? key, [NotNullWhen(false)] out KeyParseError? error)
    {
        key = null;
        var eol = line.IndexOfAny((byte)'\n', (byte)'\r');
        if (eol >= 0)
        {
            error = new KeyParseError($"{ByteText.Describe(line[eol])} inside the key line (give exactly one line)", eol + 1);
            return false;
        }

        switch (KeyLineParser.Classify(line))
        {
            case LineKind.Blank:
                error = new KeyParseError("no key: the line is empty", 1);
                return false;
            case LineKind.Comment:
                error = new KeyParseError("no key: the line is a comment", line.IndexOf((byte)'#') + 1);
                return false;
        }

        // the key keeps slices of the text, so it gets its own copy
        error = KeyLineParser.Parse(line.ToArray(), arena: null, deep: false, out key);
        return error is null;
    }

    /// <summary>The canonical line: <c>[options ]type base64[ comment]</c>, options and comment as written.</summary>
    public string ToLine() => Encoding.UTF8.GetString(ToLineBytes());

    internal byte[] ToLineBytes()
    {
        var base64Length = ((Blob.Length + 2) / 3) * 4;
        var optionsLength = _optionsText.IsEmpty ? 0 : _optionsText.Length + 1;
        var commentLength = _commentText is { } c ? c.Length + 1 : 0;
        var line = new byte[optionsLength + _type.NameUtf8.Length + 1 + base64Length + commentLength];
        var at = 0;
        if (optionsLength > 0)
        {
            _optionsText.Span.CopyTo(line);
            at = optionsLength;
            line[at - 1] = (byte)' ';
        }

        _type.NameUtf8.CopyTo(line, at);
        at += _type.NameUtf8.Length;
        line[at++] = (byte)' ';
        System.Buffers.Text.Base64.EncodeToUtf8(Blob.Span, line.AsSpan(at), out _, out var written);
        at += written;
        if (_commentText is { } comment)
        {
            line[at++] = (byte)' ';
            comment.Span.CopyTo(line.AsSpan(at));
        }

        return line;
    }

    public override string ToString() => ToLine();

    // The text was checked when the line was parsed, so it parses again without error.
    private static IReadOnlyList<KeyOption> ParseOptions(ReadOnlySpan<byte> text)
    {
        if (text.IsEmpty)
        {
            return [];
        }

        var error = KeyOptionsParser.Parse(text, 0, out _, out var options);
        return error is null ? options : throw new InvalidOperationException($"options parsed before no longer parse: {error}");
    }
}
