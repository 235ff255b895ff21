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

/// <summary>One line of an authorized_keys file, exactly as it is in the file.</summary>
public sealed class AuthorizedKeysLine
{
    internal static readonly ReadOnlyMemory<byte> Lf = "\n"u8.ToArray();
    internal static readonly ReadOnlyMemory<byte> CrLf = "\r\n"u8.ToArray();

    internal AuthorizedKeysLine(int number, LineKind kind, ReadOnlyMemory<byte> raw, ReadOnlyMemory<byte> eol, SshPublicKey? key, KeyParseError? error)
    {
        Number = number;
        Kind = kind;
        Raw = raw;
        Eol = eol;
        Key = key;
        Error = error;
    }

    /// <summary>1-based position in the document as it is now.</summary>
    public int Number { get; internal set; }

    public LineKind Kind { get; }

    /// <summary>The line's bytes without its end of line.</summary>
    public ReadOnlyMemory<byte> Raw { get; }

    /// <summary>"\n", "\r\n", or empty for a last line without a newline. A lone CR is part of <see cref="Raw"/>.</summary>
    public ReadOnlyMemory<byte> Eol { get; internal set; }

    public SshPublicKey? Key { get; }

    public KeyParseError? Error { get; }

    public override string ToString() => $"{Number}: {Kind}";
}
