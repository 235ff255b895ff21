namespace Latch.Core.Keys;

public enum LineKind
{
    /// <summary>Empty, or only spaces and tabs.</summary>
    Blank,

    /// <summary>Starts with '#' (after optional spaces or tabs); sshd ignores it.</summary>
    Comment,

    /// <summary>A valid key line; <see cref="AuthorizedKeysLine.Key"/> is set.</summary>
    Key,

    /// <summary>Neither blank, comment nor valid key; <see cref="AuthorizedKeysLine.Error"/> says why. Kept verbatim.</summary>
    Malformed,
}

/// <summary>One line of an authorized_keys file, exactly as it is in the file (a snapshot of the document's line).</summary>
public sealed class AuthorizedKeysLine
{
    private readonly LineRecord _record;
    private SshPublicKey? _key;

    internal AuthorizedKeysLine(int number, in LineRecord record)
    {
        Number = number;
        _record = record;
    }

    /// <summary>1-based position in the document when this line was taken from it.</summary>
    public int Number { get; }

    public LineKind Kind => _record.Kind;

    /// <summary>The line's bytes without its end of line.</summary>
    public ReadOnlyMemory<byte> Raw => _record.Raw;

    /// <summary>"\n", "\r\n", or empty for a last line without a newline. A lone CR is part of <see cref="Raw"/>.</summary>
    public ReadOnlyMemory<byte> Eol => LineRecord.Bytes(_record.Eol);

    /// <summary>The key of a <see cref="LineKind.Key"/> line; null for every other kind.</summary>
    public SshPublicKey? Key => Kind == LineKind.Key ? _key ??= _record.CreateKey() : null;

    public KeyParseError? Error => _record.Error;

    public override string ToString() => $"{Number}: {Kind}";
}

internal enum EndOfLine : byte
{
    None,
    Lf,
    CrLf,
}

/// <summary>
/// A line as the document keeps it: a value in one array, with where a key's parts are rather than the key
/// itself, so a big file is one array for the garbage collector instead of objects per line (which was most
/// of what parsing cost). <see cref="AuthorizedKeysLine"/> is the public view of one.
/// </summary>
internal readonly struct LineRecord(LineKind kind, ReadOnlyMemory<byte> raw, EndOfLine eol, KeyParts parts, KeyParseError? error, SshPublicKey? appendedKey)
{
    private static readonly ReadOnlyMemory<byte> s_lf = "\n"u8.ToArray();
    private static readonly ReadOnlyMemory<byte> s_crLf = "\r\n"u8.ToArray();

    public LineKind Kind => kind;

    public ReadOnlyMemory<byte> Raw => raw;

    public EndOfLine Eol => eol;

    public KeyParseError? Error => error;

    /// <summary>The key's identity without building the key, or null when this is no key line.</summary>
    public KeyIdentity? Identity => kind != LineKind.Key ? null : appendedKey is { } key ? key.Identity : parts.Identity;

    public static ReadOnlyMemory<byte> Bytes(EndOfLine eol) => eol switch
    {
        EndOfLine.Lf => s_lf,
        EndOfLine.CrLf => s_crLf,
        _ => default,
    };

    /// <summary>The key of a key line: the one a merge appended, else a new one built from the line's parts.</summary>
    public SshPublicKey CreateKey() => appendedKey ?? parts.CreateKey(raw);

    public LineRecord WithEol(EndOfLine newEol) => new(kind, raw, newEol, parts, error, appendedKey);
}
