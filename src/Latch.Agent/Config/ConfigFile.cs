using System.Globalization;
using System.Text;

namespace Latch.Agent.Config;

/// <summary>One setting as a file wrote it: the dotted key (<c>Provisioning.RegenerateSshHostKeyPair</c>), its text and line.</summary>
internal sealed record ConfigEntry(string Key, string Value, int Line);

/// <summary>
/// Reads the two file formats latchd accepts into dotted keys: latchd.toml (a flat TOML subset: <c>[Table]</c> headers
/// and <c>Key = "string" | true | false | 123</c>) and waagent.conf (<c>Section.Key=value</c>, <c>#</c> comments).
/// A small hand-written reader instead of a TOML library: these flat keys are all latchd needs, and it keeps the
/// NativeAOT binary free of reflection-based serializers.
/// </summary>
internal static class ConfigFile
{
    public static List<ConfigEntry> ParseToml(string text, string source)
    {
        var entries = new List<ConfigEntry>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var table = "";
        var number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var line = StripComment(raw.TrimEnd('\r'), source, number).Trim();
            if (line.Length == 0)
            {
                continue;
            }

            if (line.StartsWith('['))
            {
                if (!line.EndsWith(']') || line.StartsWith("[[", StringComparison.Ordinal))
                {
                    throw Error(source, number, $"'{line}' is not a table header; write [Provisioning], [OS], [HttpProxy], [ResourceDisk] or [Latch]");
                }

                table = line[1..^1].Trim();
                if (!IsBareKey(table))
                {
                    throw Error(source, number, $"table name '{table}' must be letters, digits, '_' or '-'");
                }

                continue;
            }

            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw Error(source, number, $"expected 'Key = value', got '{line}'");
            }

            var name = line[..equals].Trim();
            if (!IsBareKey(name))
            {
                throw Error(source, number, $"key '{name}' must be a bare key (letters, digits, '_' or '-')");
            }

            var key = table.Length == 0 ? name : table + "." + name;
            if (!seen.Add(key))
            {
                throw Error(source, number, $"'{key}' is set twice");
            }

            entries.Add(new ConfigEntry(key, ParseTomlValue(line[(equals + 1)..].Trim(), source, number, key), number));
        }

        return entries;
    }

    public static List<ConfigEntry> ParseWaagentConf(string text)
    {
        var entries = new Dictionary<string, ConfigEntry>(StringComparer.Ordinal);
        var number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                continue;   // waagent ignores such lines too
            }

            // waagent's parser: value up to an unquoted '#', surrounding quotes removed
            var value = line[(equals + 1)..];
            var hash = value.IndexOf('#', StringComparison.Ordinal);
            if (hash >= 0)
            {
                value = value[..hash];
            }

            value = value.Trim().Trim('"');
            var key = line[..equals].Trim();
            entries[key] = new ConfigEntry(key, value, number);   // the last one wins, as in waagent
        }

        return [.. entries.Values.OrderBy(e => e.Line)];
    }

    private static string ParseTomlValue(string text, string source, int line, string key)
    {
        if (text.Length == 0)
        {
            throw Error(source, line, $"'{key}' has no value");
        }

        if (text[0] == '"')
        {
            var value = new StringBuilder();
            for (var i = 1; i < text.Length; i++)
            {
                var c = text[i];
                if (c == '"')
                {
                    if (i != text.Length - 1)
                    {
                        throw Error(source, line, $"unexpected text after the string of '{key}'");
                    }

                    return value.ToString();
                }

                if (c == '\\' && i + 1 < text.Length)
                {
                    i++;
                    value.Append(text[i] switch
                    {
                        '"' => '"',
                        '\\' => '\\',
                        'n' => '\n',
                        't' => '\t',
                        _ => throw Error(source, line, $"unsupported escape '\\{text[i]}' in '{key}'"),
                    });
                    continue;
                }

                if (char.IsControl(c))
                {
                    throw Error(source, line, $"control character in the string of '{key}'");
                }

                value.Append(c);
            }

            throw Error(source, line, $"the string of '{key}' has no closing quote");
        }

        if (text[0] == '\'')
        {
            return text.Length >= 2 && text[^1] == '\'' && text.IndexOf('\'', 1) == text.Length - 1
                ? text[1..^1]
                : throw Error(source, line, $"the literal string of '{key}' must be 'text' on one line");
        }

        if (text is "true" or "false")
        {
            return text;
        }

        if (long.TryParse(text.Replace("_", "", StringComparison.Ordinal), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
        {
            return number.ToString(CultureInfo.InvariantCulture);
        }

        throw Error(source, line, $"the value of '{key}' must be a \"string\", true, false or an integer (got '{text}')");
    }

    private static string StripComment(string line, string source, int number)
    {
        var inString = '\0';
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (inString != '\0')
            {
                if (c == '\\' && inString == '"')
                {
                    i++;
                }
                else if (c == inString)
                {
                    inString = '\0';
                }
            }
            else if (c is '"' or '\'')
            {
                inString = c;
            }
            else if (c == '#')
            {
                return line[..i];
            }
        }

        return inString == '\0' ? line : throw Error(source, number, "a string is not closed on this line");
    }

    private static bool IsBareKey(string name) =>
        name.Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-');

    private static ConfigException Error(string source, int line, string problem) =>
        new($"{source}:{line.ToString(CultureInfo.InvariantCulture)}: {problem}");
}
