namespace Latch.Core.Keys;

/// <summary>
/// An authorized_keys file as a list of lines that serialises back byte for byte: keys, comments, blank
/// lines and malformed lines alike, with their own line endings (LF, CRLF, or none on the last line).
/// </summary>
/// <remarks>
/// Changes are append and remove only. <see cref="EnsurePresent"/> appends missing keys; the single change
/// it may make to an existing line is to give a last line that lacks one a line ending, so the appended key
/// does not run into it. <see cref="Remove"/> removes whole lines (with their endings). Nothing else in an
/// existing line ever changes, and a malformed line is never dropped.
/// </remarks>
public sealed class AuthorizedKeysDocument
{
    private readonly List<AuthorizedKeysLine> _lines;
    private HashSet<KeyIdentity>? _index;

    private AuthorizedKeysDocument(List<AuthorizedKeysLine> lines)
    {
        _lines = lines;
    }

    /// <summary>A new empty document (each call returns its own, since documents change).</summary>
    public static AuthorizedKeysDocument Empty => new([]);

    public IReadOnlyList<AuthorizedKeysLine> Lines => _lines;

    /// <summary>The valid keys, in file order.</summary>
    public IEnumerable<SshPublicKey> Keys
    {
        get
        {
            foreach (var line in _lines)
            {
                if (line.Key is { } key)
                {
                    yield return key;
                }
            }
        }
    }

    public static AuthorizedKeysDocument Parse(ReadOnlySpan<byte> content)
    {
        // Lines are slices of one private copy, and blobs of one shared arena: two allocations per file,
        // plus the line and key objects.
        var buffer = content.ToArray();
        var memory = new ReadOnlyMemory<byte>(buffer);
        var lines = new List<AuthorizedKeysLine>(EstimateLines(content));
        var arena = new BlobArena((content.Length * 3 / 4) + 16);
        var start = 0;
        while (start < buffer.Length)
        {
            var newline = content[start..].IndexOf((byte)'\n');
            int end;
            ReadOnlyMemory<byte> eol;
            int next;
            if (newline < 0)
            {
                end = buffer.Length;
                eol = default;
                next = buffer.Length;
            }
            else
            {
                end = start + newline;
                next = end + 1;
                if (end > start && buffer[end - 1] == (byte)'\r')
                {
                    end--;
                    eol = AuthorizedKeysLine.CrLf;
                }
                else
                {
                    eol = AuthorizedKeysLine.Lf;
                }
            }

            lines.Add(ParseLine(lines.Count + 1, memory[start..end], eol, arena));
            start = next;
        }

        return new AuthorizedKeysDocument(lines);
    }

    public byte[] ToBytes()
    {
        var length = 0;
        foreach (var line in _lines)
        {
            length += line.Raw.Length + line.Eol.Length;
        }

        var bytes = new byte[length];
        var at = 0;
        foreach (var line in _lines)
        {
            line.Raw.Span.CopyTo(bytes.AsSpan(at));
            at += line.Raw.Length;
            line.Eol.Span.CopyTo(bytes.AsSpan(at));
            at += line.Eol.Length;
        }

        return bytes;
    }

    public bool Contains(KeyIdentity identity) => Index().Contains(identity);

    /// <summary>
    /// Appends, in the given order, each key whose identity is not in the document yet, as a canonical line
    /// (<see cref="SshPublicKey.ToLine"/>) ending like the file's lines do (LF unless the file uses CRLF).
    /// Never reorders or rewrites lines; see the class remarks for the one exception. Idempotent.
    /// </summary>
    /// <returns>How many lines were appended.</returns>
    public int EnsurePresent(IEnumerable<SshPublicKey> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var index = Index();
        var appended = 0;
        foreach (var key in keys)
        {
            ArgumentNullException.ThrowIfNull(key);
            if (!index.Add(key.Identity))
            {
                continue;
            }

            var eol = LineEnding();
            if (_lines.Count > 0 && _lines[^1].Eol.IsEmpty)
            {
                _lines[^1].Eol = eol;
            }

            _lines.Add(new AuthorizedKeysLine(_lines.Count + 1, LineKind.Key, key.ToLineBytes(), eol, key, null));
            appended++;
        }

        return appended;
    }

    /// <summary>
    /// Removes every key line whose identity is in <paramref name="keys"/> and also in <paramref name="managed"/>
    /// (the keys the caller owns), so a key someone else added is never removed by mistake. Malformed lines
    /// are never removed.
    /// </summary>
    /// <returns>How many lines were removed.</returns>
    public int Remove(IEnumerable<KeyIdentity> keys, IReadOnlySet<KeyIdentity> managed)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(managed);
        var doomed = new HashSet<KeyIdentity>();
        foreach (var identity in keys)
        {
            if (managed.Contains(identity))
            {
                doomed.Add(identity);
            }
        }

        if (doomed.Count == 0)
        {
            return 0;
        }

        var removed = _lines.RemoveAll(line => line.Key is { } key && doomed.Contains(key.Identity));
        if (removed > 0)
        {
            for (var i = 0; i < _lines.Count; i++)
            {
                _lines[i].Number = i + 1;
            }

            _index = null;
        }

        return removed;
    }

    private static AuthorizedKeysLine ParseLine(int number, ReadOnlyMemory<byte> raw, ReadOnlyMemory<byte> eol, BlobArena arena)
    {
        var kind = KeyLineParser.Classify(raw.Span);
        if (kind != LineKind.Key)
        {
            return new AuthorizedKeysLine(number, kind, raw, eol, null, null);
        }

        var error = KeyLineParser.Parse(raw, arena, deep: false, out var key);
        return error is null
            ? new AuthorizedKeysLine(number, LineKind.Key, raw, eol, key, null)
            : new AuthorizedKeysLine(number, LineKind.Malformed, raw, eol, null, error);
    }

    private static int EstimateLines(ReadOnlySpan<byte> content) => Math.Max(4, content.Count((byte)'\n') + 1);

    private HashSet<KeyIdentity> Index()
    {
        if (_index is null)
        {
            var index = new HashSet<KeyIdentity>(_lines.Count);
            foreach (var line in _lines)
            {
                if (line.Key is { } key)
                {
                    index.Add(key.Identity);
                }
            }

            _index = index;
        }

        return _index;
    }

    // New lines follow the file's convention: the ending of the first line that has one.
    private ReadOnlyMemory<byte> LineEnding()
    {
        foreach (var line in _lines)
        {
            if (!line.Eol.IsEmpty)
            {
                return line.Eol;
            }
        }

        return AuthorizedKeysLine.Lf;
    }
}
