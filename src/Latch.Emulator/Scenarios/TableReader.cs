namespace Latch.Emulator.Scenarios;

/// <summary>Reads typed values from one table of a <see cref="ScenarioNode"/> tree and remembers which keys it used.</summary>
internal sealed class TableReader
{
    private readonly ScenarioNode _table;
    private readonly HashSet<string> _known = new(StringComparer.Ordinal);

    public TableReader(ScenarioNode table, string source)
    {
        if (table.Kind != NodeKind.Table)
        {
            throw new ScenarioException($"{source}: {table.Where} must be a table, not {Describe(table.Kind)}.");
        }

        _table = table;
        Source = source;
    }

    public string Source { get; }

    public string? String(string key, Func<string, string?>? validate = null)
    {
        var node = Find(key);
        if (node is null)
        {
            return null;
        }

        if (node.Kind != NodeKind.String)
        {
            throw Error(node, $"must be a string, not {Describe(node.Kind)}");
        }

        var value = (string)node.Scalar!;
        if (validate?.Invoke(value) is { } problem)
        {
            throw Error(node, $"'{Shorten(value)}' is not valid: {problem}");
        }

        return value;
    }

    public string RequiredString(string key, Func<string, string?>? validate = null) =>
        String(key, validate) ?? throw new ScenarioException($"{Source}: {Where()} needs the key '{key}'.");

    public string? Guid(string key) => String(key, v => System.Guid.TryParse(v, out _) ? null : "a GUID such as 00000000-0000-4000-8000-000000000001");

    public bool? Bool(string key)
    {
        var node = Find(key);
        return node switch
        {
            null => null,
            { Kind: NodeKind.Boolean } => (bool)node.Scalar!,
            _ => throw Error(node, $"must be true or false, not {Describe(node.Kind)}"),
        };
    }

    public bool Has(string key) => _table.Fields.Any(f => f.Key == key || ScenarioNode.SnakeCase(f.Key) == key);

    public int? Integer(string key, int min, int max)
    {
        var node = Find(key);
        return node switch
        {
            null => null,
            { Kind: NodeKind.Integer, Scalar: long value } when value >= min && value <= max => (int)value,
            _ => throw Error(node, $"must be a whole number from {min} to {max}"),
        };
    }

    public DateTimeOffset? Date(string key)
    {
        var node = Find(key);
        return node switch
        {
            null => null,
            { Kind: NodeKind.DateTime } => (DateTimeOffset)node.Scalar!,
            _ => throw Error(node, $"must be a date-time such as 2030-01-01T00:00:00Z, not {Describe(node.Kind)}"),
        };
    }

    public IReadOnlyList<string> StringList(string key)
    {
        var node = Find(key);
        if (node is null)
        {
            return [];
        }

        if (node.Kind != NodeKind.Array || node.Items.Any(i => i.Kind != NodeKind.String))
        {
            throw Error(node, "must be an array of strings");
        }

        return [.. node.Items.Select(i => (string)i.Scalar!)];
    }

    public IReadOnlyDictionary<string, string> StringMap(string key)
    {
        var node = Find(key);
        if (node is null)
        {
            return new Dictionary<string, string>();
        }

        if (node.Kind != NodeKind.Table)
        {
            throw Error(node, "must be a table of string values");
        }

        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in node.Fields)
        {
            if (value.Kind != NodeKind.String)
            {
                throw Error(value, "must be a string");
            }

            map[name] = (string)value.Scalar!;
        }

        return map;
    }

    public IEnumerable<TableReader> Tables(string key)
    {
        var node = Find(key);
        if (node is null)
        {
            return [];
        }

        if (node.Kind != NodeKind.Array)
        {
            throw Error(node, $"must be an array of tables (write [[{key}]] sections)");
        }

        return [.. node.Items.Select(i => new TableReader(i, Source))];
    }

    public void RejectUnknown()
    {
        var unknown = _table.Fields.FirstOrDefault(f => !_known.Contains(f.Key) && !_known.Contains(ScenarioNode.SnakeCase(f.Key)));
        if (unknown.Value is not null)
        {
            throw Error(unknown.Value, $"is not a known key here; known keys: {string.Join(", ", _known.Order(StringComparer.Ordinal))}");
        }
    }

    private ScenarioNode? Find(string key)
    {
        _known.Add(key);
        foreach (var (name, node) in _table.Fields)
        {
            if (name == key || ScenarioNode.SnakeCase(name) == key)
            {
                return node;
            }
        }

        return null;
    }

    private string Where() => _table.Path.Length == 0 ? "the top level" : _table.Where;

    private ScenarioException Error(ScenarioNode node, string problem) => new($"{Source}: {node.Where} {problem}.");

    private static string Shorten(string value) => value.Length <= 40 ? value : value[..37] + "...";

    private static string Describe(NodeKind kind) => kind switch
    {
        NodeKind.Table => "a table",
        NodeKind.Array => "an array",
        NodeKind.String => "a string",
        NodeKind.Integer => "an integer",
        NodeKind.Float => "a number",
        NodeKind.Boolean => "a boolean",
        _ => "a date-time",
    };
}
