using System.Buffers.Text;

namespace Latch.Core.Keys;

/// <summary>
/// Reads one authorized_keys line the way sshd does (auth2-pubkeyfile.c): leading spaces and tabs are
/// skipped, a line starting with '#' or holding only whitespace is ignored; otherwise the line is
/// <c>[options] type base64 [comment]</c>, fields separated by spaces or tabs.
/// </summary>
internal static class KeyLineParser
{
    public static LineKind Classify(ReadOnlySpan<byte> raw)
    {
        var i = SkipBlanks(raw, 0);
        if (i == raw.Length || raw[i..].IndexOfAnyExcept((byte)' ', (byte)'\t', (byte)'\r') < 0)
        {
            return LineKind.Blank;
        }

        return raw[i] == (byte)'#' ? LineKind.Comment : LineKind.Key;
    }

    /// <summary>Parses a line that <see cref="Classify"/> called a key line.</summary>
    /// <param name="raw">The line without its end-of-line bytes; the key keeps slices of it, so it must not change.</param>
    /// <param name="arena">Where decoded blobs go (one buffer for a whole file), or null for an array of their own.</param>
    /// <param name="deep">Also run the slow checks (ECDSA points on their curve).</param>
    public static KeyParseError? Parse(ReadOnlyMemory<byte> raw, BlobArena? arena, bool deep, out SshPublicKey? key)
    {
        var error = ParseParts(raw.Span, arena, deep, out var parts);
        key = error is null ? parts.CreateKey(raw) : null;
        return error;
    }

    /// <summary>Like the overload above, but leaves the key unbuilt: a parsed file keeps only where each key's parts are.</summary>
    public static KeyParseError? ParseParts(ReadOnlySpan<byte> line, BlobArena? arena, bool deep, out KeyParts parts)
    {
        parts = default;
        var start = SkipBlanks(line, 0);
        if (start == line.Length)
        {
            return new KeyParseError("line is empty", 1);
        }

        var firstEnd = TokenEnd(line, start);
        if (KeyType.Find(line[start..firstEnd]) is { } type)
        {
            return ParseKey(line, type, start, optionsEnd: start, arena, deep, out parts);
        }

        if (KeyType.RefusalHint(line[start..firstEnd]) is { } refusal)
        {
            return new KeyParseError($"unsupported key type '{ByteText.Printable(line[start..firstEnd])}' ({refusal})", start + 1);
        }

        // the options are checked here; the key parses them again only when someone asks for them, so a
        // parsed file does not keep an option list per key alive
        var optionsError = KeyOptionsParser.Parse(line, start, out var optionsEnd, out _);
        if (optionsError is not null)
        {
            // A bare word that is no option name is far more likely a mistyped key type than an option.
            var first = line[start..firstEnd];
            return first.IndexOfAny("=,\""u8) < 0 && !KeyOptionsParser.IsOptionName(first)
                ? new KeyParseError($"unknown key type '{ByteText.Printable(first)}'", start + 1)
                : optionsError;
        }

        var typeStart = SkipBlanks(line, optionsEnd);
        if (typeStart == line.Length)
        {
            return new KeyParseError("options are not followed by a key type", typeStart + 1);
        }

        var typeEnd = TokenEnd(line, typeStart);
        type = KeyType.Find(line[typeStart..typeEnd]);
        if (type is null)
        {
            var hint = KeyType.RefusalHint(line[typeStart..typeEnd]);
            return new KeyParseError(
                hint is null
                    ? $"unknown key type '{ByteText.Printable(line[typeStart..typeEnd])}'"
                    : $"unsupported key type '{ByteText.Printable(line[typeStart..typeEnd])}' ({hint})",
                typeStart + 1);
        }

        return ParseKey(line, type, typeStart, optionsEnd, arena, deep, out parts);
    }

    private static KeyParseError? ParseKey(
        ReadOnlySpan<byte> line, KeyType type, int typeStart, int optionsEnd, BlobArena? arena, bool deep, out KeyParts parts)
    {
        parts = default;
        var lineStart = SkipBlanks(line, 0);
        var typeEnd = typeStart + type.NameUtf8.Length;
        var blobStart = SkipBlanks(line, typeEnd);
        if (blobStart == line.Length)
        {
            return new KeyParseError($"key type '{type.Name}' is not followed by a base64 key", blobStart + 1);
        }

        var blobEnd = TokenEnd(line, blobStart);
        var text = line[blobStart..blobEnd];
        var bad = text.IndexOfAnyExcept(s_base64Chars);
        if (bad >= 0)
        {
            return new KeyParseError($"{ByteText.Describe(text[bad])} in the base64 key", blobStart + bad + 1);
        }

        if (text.Length % 4 != 0)
        {
            return new KeyParseError($"base64 key is {text.Length} characters, not a multiple of 4 (is it cut off?)", blobStart + 1);
        }

        var padding = text.IndexOf((byte)'=');
        if (padding >= 0 && padding < text.Length - 2)
        {
            return new KeyParseError("base64 key has '=' padding before its end", blobStart + padding + 1);
        }

        var destination = arena is null ? new byte[Base64.GetMaxDecodedFromUtf8Length(text.Length)] : arena.Reserve(text.Length);
        var status = Base64.DecodeFromUtf8(text, destination.Span, out _, out var written);
        if (status != System.Buffers.OperationStatus.Done)
        {
            return new KeyParseError("base64 key does not decode (bad padding or trailing bits)", blobStart + 1);
        }

        arena?.Commit(written);
        var blob = destination[..written];
        var blobError = KeyBlobChecker.Check(type, blob.Span, deep, out var facts);
        if (blobError is not null)
        {
            return new KeyParseError(blobError, blobStart + 1);
        }

        var commentStart = SkipBlanks(line, blobEnd);
        parts = new KeyParts(type, blob, lineStart, optionsEnd, commentStart < line.Length ? commentStart : -1, facts);
        return null;
    }

    private static readonly System.Buffers.SearchValues<byte> s_base64Chars =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="u8);

    private static int SkipBlanks(ReadOnlySpan<byte> line, int i)
    {
        while (i < line.Length && line[i] is (byte)' ' or (byte)'\t')
        {
            i++;
        }

        return i;
    }

    private static int TokenEnd(ReadOnlySpan<byte> line, int i)
    {
        var end = line[i..].IndexOfAny((byte)' ', (byte)'\t');
        return end < 0 ? line.Length : i + end;
    }
}

/// <summary>
/// Where a valid key line's parts are: enough to build its <see cref="SshPublicKey"/> from the line's bytes
/// when someone asks for it, and to know its identity without building it.
/// </summary>
internal readonly struct KeyParts(KeyType type, ReadOnlyMemory<byte> blob, int optionsStart, int optionsEnd, int commentStart, BlobFacts facts)
{
    public KeyIdentity Identity => new(type.Name, blob, KeyIdentity.Hash(blob.Span));

    public SshPublicKey CreateKey(ReadOnlyMemory<byte> raw) => new(
        type,
        blob,
        optionsEnd > optionsStart ? raw[optionsStart..optionsEnd] : default,
        commentStart >= 0 ? raw[commentStart..] : null,
        facts);
}

/// <summary>One buffer that the decoded blobs of a whole file share, so parsing does not allocate per key.</summary>
internal sealed class BlobArena(int capacity)
{
    private byte[] _buffer = new byte[Math.Max(capacity, 64)];
    private int _used;

    public Memory<byte> Reserve(int base64Length)
    {
        var need = Base64.GetMaxDecodedFromUtf8Length(base64Length);
        if (_buffer.Length - _used < need)
        {
            // earlier blobs keep the old buffer alive; only new ones go to the new one
            _buffer = new byte[Math.Max(need, _buffer.Length)];
            _used = 0;
        }

        return _buffer.AsMemory(_used, need);
    }

    public void Commit(int written) => _used += written;
}
