using System.Globalization;
using System.Text.Json;
using Tomlyn;
using Tomlyn.Model;
using Tomlyn.Serialization;

namespace Latch.Emulator.Scenarios;

internal enum NodeKind { Table, Array, String, Integer, Float, Boolean, DateTime }

/// <summary>
/// A format-neutral view of a parsed scenario file, so TOML and JSON go through one mapping with the same
/// error messages. Every node knows its key path (e.g. <c>vms[1].public_keys[0].key_data</c>) and, for TOML,
/// its line.
/// </summary>
internal sealed class ScenarioNode
{
    private ScenarioNode(NodeKind kind, string path, int? line)
    {
        Kind = kind;
        Path = path;
        Line = line;
    }

    public NodeKind Kind { get; }
    public string Path { get; }
    public int? Line { get; }
    public object? Scalar { get; private init; }
    public IReadOnlyList<KeyValuePair<string, ScenarioNode>> Fields { get; private init; } = [];
    public IReadOnlyList<ScenarioNode> Items { get; private init; } = [];

    public string Where => Line is { } line ? $"'{Path}' (line {line})" : $"'{Path}'";

    public static ScenarioNode FromToml(string text, string sourceName)
    {
        var store = new TomlMetadataStore();
        var options = new TomlSerializerOptions { SourceName = sourceName, MetadataStore = store };
        TomlTable table;
        try
        {
            table = TomlSerializer.Deserialize<TomlTable>(text, options)
                ?? throw new ScenarioException($"{sourceName}: the file is empty; it needs at least one [[vms]] table.");
        }
        catch (TomlException e)
        {
            var where = e.Line is { } line ? $" line {line}" + (e.Column is { } col ? $", column {col}" : "") : "";
            throw new ScenarioException($"{sourceName}:{where}: not valid TOML: {FirstLine(e.Message)}", e);
        }

        return FromTomlValue(table, "", null, store);
    }

    public static ScenarioNode FromJson(string text, string sourceName)
    {
        try
        {
            using var document = JsonDocument.Parse(text, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            return FromJsonValue(document.RootElement, "");
        }
        catch (JsonException e)
        {
            var where = e.LineNumber is { } line ? $" line {line + 1}" + (e.BytePositionInLine is { } col ? $", column {col + 1}" : "") : "";
            throw new ScenarioException($"{sourceName}:{where}: not valid JSON: {FirstLine(e.Message)}", e);
        }
    }

    private static string FirstLine(string message)
    {
        var end = message.IndexOfAny(['\r', '\n']);
        return end < 0 ? message : message[..end];
    }

    private static ScenarioNode FromTomlValue(object? value, string path, int? line, TomlMetadataStore store)
    {
        switch (value)
        {
            case TomlTable table:
                store.TryGetProperties(table, out var metadata);
                var fields = new List<KeyValuePair<string, ScenarioNode>>();
                foreach (var (key, child) in table)
                {
                    int? childLine = metadata is not null && metadata.TryGetProperty(key, out var property) && property.Span is { } span
                        ? span.Start.Line + 1
                        : line;
                    fields.Add(new(key, FromTomlValue(child, Join(path, key), childLine, store)));
                }

                return new ScenarioNode(NodeKind.Table, path, line) { Fields = fields };
            case TomlTableArray tables:
                return new ScenarioNode(NodeKind.Array, path, line)
                {
                    Items = [.. tables.Select((t, i) => FromTomlValue(t, $"{path}[{i}]", line, store))],
                };
            case TomlArray array:
                return new ScenarioNode(NodeKind.Array, path, line)
                {
                    Items = [.. array.Select((t, i) => FromTomlValue(t, $"{path}[{i}]", line, store))],
                };
            case string s:
                return new ScenarioNode(NodeKind.String, path, line) { Scalar = s };
            case bool b:
                return new ScenarioNode(NodeKind.Boolean, path, line) { Scalar = b };
            case long l:
                return new ScenarioNode(NodeKind.Integer, path, line) { Scalar = l };
            case double d:
                return new ScenarioNode(NodeKind.Float, path, line) { Scalar = d };
            case TomlDateTime dt:
                return new ScenarioNode(NodeKind.DateTime, path, line) { Scalar = dt.DateTime };
            default:
                throw new ScenarioException($"'{path}'{(line is { } l2 ? $" (line {l2})" : "")}: unsupported TOML value of type {value?.GetType().Name ?? "null"}.");
        }
    }

    private static ScenarioNode FromJsonValue(JsonElement element, string path) => element.ValueKind switch
    {
        JsonValueKind.Object => new ScenarioNode(NodeKind.Table, path, null)
        {
            Fields = [.. element.EnumerateObject().Select(p => new KeyValuePair<string, ScenarioNode>(p.Name, FromJsonValue(p.Value, Join(path, p.Name))))],
        },
        JsonValueKind.Array => new ScenarioNode(NodeKind.Array, path, null)
        {
            Items = [.. element.EnumerateArray().Select((e, i) => FromJsonValue(e, $"{path}[{i}]"))],
        },
        JsonValueKind.String when element.TryGetDateTimeOffset(out var when) && LooksLikeTimestamp(element.GetString()!)
            => new ScenarioNode(NodeKind.DateTime, path, null) { Scalar = when },
        JsonValueKind.String => new ScenarioNode(NodeKind.String, path, null) { Scalar = element.GetString() },
        JsonValueKind.True or JsonValueKind.False => new ScenarioNode(NodeKind.Boolean, path, null) { Scalar = element.GetBoolean() },
        JsonValueKind.Number when element.TryGetInt64(out var l) => new ScenarioNode(NodeKind.Integer, path, null) { Scalar = l },
        JsonValueKind.Number => new ScenarioNode(NodeKind.Float, path, null) { Scalar = element.GetDouble() },
        _ => throw new ScenarioException($"'{path}': null is not allowed; leave the key out instead."),
    };

    /// <summary>adminUsername → admin_username: a scenario may spell keys either way (map keys such as tag names stay as written).</summary>
    internal static string SnakeCase(string name)
    {
        var builder = new System.Text.StringBuilder(name.Length + 4);
        foreach (var c in name)
        {
            if (char.IsUpper(c))
            {
                if (builder.Length > 0)
                {
                    builder.Append('_');
                }

                builder.Append(char.ToLowerInvariant(c));
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    private static bool LooksLikeTimestamp(string s) =>
        s.Length >= 10 && char.IsAsciiDigit(s[0]) && s[4] == '-' && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out _);

    private static string Join(string path, string key) => path.Length == 0 ? key : $"{path}.{key}";
}
