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
    private readonly List<LineRecord> _lines;
    private HashSet<KeyIdentity>? _index;

    private AuthorizedKeysDocument(List<LineRecord> lines)
    {
        _lines = lines;
    }

    /// <summary>A new empty document (each call returns its own, since documents change).</summary>
    public static AuthorizedKeysDocument Empty => new([]);

    /// <summary>The lines as they are now; each read gives a snapshot of the line (its number included).</summary>
    public IReadOnlyList<AuthorizedKeysLine> Lines => new LineList(this);

    /// <summary>The valid keys, in file order.</summary>
    public IEnumerable<SshPublicKey> Keys
    {
        get
        {
            foreach (var line in _lines)
            {
                if (line.Kind == LineKind.Key)
                {
                    yield return line.CreateKey();
                }
            }
        }
    }

    /// <summary>Parses a copy of <paramref name="content"/>.</summary>
    public static AuthorizedKeysDocument Parse(ReadOnlySpan<byte> content) => ParseOwned(content.ToArray());

    /// <summary>
    /// Parses <paramref name="content"/> without copying it: the lines are slices of the array, so the caller
    /// hands it over and must not change it afterwards (the bytes just read from a file, say).
    /// </summary>
    public static AuthorizedKeysDocument ParseOwned(byte[] content)
    {
        ArgumentNullException.ThrowIfNull(content);

        // Lines are slices of the content and blobs slices of one shared arena; the lines themselves are
        // values in one list. A file is three allocations, whatever its size.
        var memory = new ReadOnlyMemory<byte>(content);
        // room for the few lines a merge appends, so it does not copy the whole list
        var lines = new List<LineRecord>(EstimateLines(content) + 16);
        var arena = new BlobArena((content.Length * 3 / 4) + 16);
        var start = 0;
        while (start < content.Length)
        {
            var newline = content.AsSpan(start).IndexOf((byte)'\n');
            int end;
            EndOfLine eol;
            int next;
            if (newline < 0)
            {
                end = content.Length;
                eol = EndOfLine.None;
                next = content.Length;
            }
            else
            {
                end = start + newline;
                next = end + 1;
                if (end > start && content[end - 1] == (byte)'\r')
                {
                    end--;
                    eol = EndOfLine.CrLf;
                }
                else
                {
                    eol = EndOfLine.Lf;
                }
            }

            lines.Add(ParseLine(memory[start..end], eol, arena));
            start = next;
        }

        return new AuthorizedKeysDocument(lines);
    }

    public byte[] ToBytes()
    {
        var length = 0;
        foreach (var line in _lines)
        {
            length += line.Raw.Length + LineRecord.Bytes(line.Eol).Length;
        }

        var bytes = new byte[length];
        var at = 0;
        foreach (var line in _lines)
        {
            line.Raw.Span.CopyTo(bytes.AsSpan(at));
            at += line.Raw.Length;
            var eol = LineRecord.Bytes(line.Eol);
            eol.Span.CopyTo(bytes.AsSpan(at));
            at += eol.Length;
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
        var wanted = new HashSet<KeyIdentity>();
        var missing = new List<SshPublicKey>();
        foreach (var key in keys)
        {
            ArgumentNullException.ThrowIfNull(key);
            if (wanted.Add(key.Identity))
            {
                missing.Add(key);
            }
        }

        if (_index is not null)
        {
            missing.RemoveAll(key => _index.Contains(key.Identity));
        }
        else if (missing.Count > 0)
        {
            // One pass over the lines against the few wanted keys costs less than indexing every line.
            foreach (var line in System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_lines))
            {
                if (line.Identity is { } identity && wanted.Remove(identity) && wanted.Count == 0)
                {
                    break;
                }
            }

            missing.RemoveAll(key => !wanted.Contains(key.Identity));
        }

        if (missing.Count == 0)
        {
            return 0;
        }

        var eol = LineEnding();
        if (_lines.Count > 0 && _lines[^1].Eol == EndOfLine.None)
        {
            _lines[^1] = _lines[^1].WithEol(eol);
        }

        if (_lines.Capacity < _lines.Count + missing.Count)
        {
            _lines.Capacity = _lines.Count + missing.Count;
        }

        foreach (var key in missing)
        {
            _lines.Add(new LineRecord(LineKind.Key, key.ToLineBytes(), eol, default, error: null, appendedKey: key));
            _index?.Add(key.Identity);
        }

        return missing.Count;
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

        var removed = _lines.RemoveAll(line => line.Identity is { } identity && doomed.Contains(identity));
        if (removed > 0)
        {
            _index = null;
        }

        return removed;
    }

    private static LineRecord ParseLine(ReadOnlyMemory<byte> raw, EndOfLine eol, BlobArena arena)
    {
        var kind = KeyLineParser.Classify(raw.Span);
        if (kind != LineKind.Key)
        {
            return new LineRecord(kind, raw, eol, default, error: null, appendedKey: null);
        }

        var error = KeyLineParser.ParseParts(raw.Span, arena, deep: false, out var parts);
        return error is null
            ? new LineRecord(LineKind.Key, raw, eol, parts, error: null, appendedKey: null)
            : new LineRecord(LineKind.Malformed, raw, eol, default, error, appendedKey: null);
    }

    private static int EstimateLines(ReadOnlySpan<byte> content) => Math.Max(4, content.Count((byte)'\n') + 1);

    private HashSet<KeyIdentity> Index()
    {
        if (_index is null)
        {
            var index = new HashSet<KeyIdentity>(_lines.Count);
            foreach (var line in _lines)
            {
                if (line.Identity is { } identity)
                {
                    index.Add(identity);
                }
            }

            _index = index;
        }

        return _index;
    }

    // New lines follow the file's convention: the ending of the first line that has one.
    private EndOfLine LineEnding()
    {
        foreach (var line in _lines)
        {
            if (line.Eol != EndOfLine.None)
            {
                return line.Eol;
            }
        }

        return EndOfLine.Lf;
    }

    private sealed class LineList(AuthorizedKeysDocument document) : IReadOnlyList<AuthorizedKeysLine>
    {
        public int Count => document._lines.Count;

        public AuthorizedKeysLine this[int index] => new(index + 1, document._lines[index]);

        public IEnumerator<AuthorizedKeysLine> GetEnumerator()
        {
            for (var i = 0; i < document._lines.Count; i++)
            {
                yield return this[i];
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
