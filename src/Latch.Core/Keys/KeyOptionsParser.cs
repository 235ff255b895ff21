using System.Text;

namespace Latch.Core.Keys;

/// <summary>
/// Parses the options that may precede the key type (sshd(8), AUTHORIZED_KEYS FILE FORMAT, and auth-options.c):
/// comma-separated, no unquoted spaces, values in double quotes with <c>\"</c> for a quote; names match
/// case-insensitively, and the negatable flags take a <c>no-</c> prefix.
/// </summary>
internal static class KeyOptionsParser
{
    private static readonly string[] s_flags = ["restrict", "cert-authority"];

    private static readonly string[] s_negatableFlags =
        ["port-forwarding", "agent-forwarding", "X11-forwarding", "touch-required", "verify-required", "pty", "user-rc"];

    private static readonly string[] s_valued =
        ["command", "principals", "from", "expiry-time", "environment", "permitopen", "permitlisten", "tunnel"];

    public static bool IsOptionName(ReadOnlySpan<byte> word) => CanonicalName(word, out _) is not null;

    /// <summary>Parses options starting at <paramref name="start"/>; on success <paramref name="end"/> is the first space, tab or end of line.</summary>
    public static KeyParseError? Parse(ReadOnlySpan<byte> line, int start, out int end, out List<KeyOption> options)
    {
        options = new List<KeyOption>(2);
        end = start;
        var i = start;
        while (true)
        {
            var nameStart = i;
            while (i < line.Length && line[i] is not ((byte)'=' or (byte)',' or (byte)' ' or (byte)'\t' or (byte)'"'))
            {
                i++;
            }

            var word = line[nameStart..i];
            if (word.IsEmpty)
            {
                return i < line.Length && line[i] == (byte)'"'
                    ? Error("a quoted value needs an option name before it (name=\"value\")", i)
                    : Error("empty option (two commas in a row, or a comma at the start)", i);
            }

            var name = CanonicalName(word, out var takesValue);
            if (name is null)
            {
                return Error($"unknown option '{ByteText.Printable(word)}'", nameStart);
            }

            var hasEquals = i < line.Length && line[i] == (byte)'=';
            if (!takesValue)
            {
                if (hasEquals)
                {
                    return Error($"option '{name}' takes no value", i);
                }

                options.Add(new KeyOption(name, null));
            }
            else
            {
                if (!hasEquals)
                {
                    return Error($"option '{name}' needs a value: {name}=\"...\"", i);
                }

                i++;
                if (i >= line.Length || line[i] != (byte)'"')
                {
                    return Error($"value of option '{name}' must start with a double quote", i);
                }

                var quote = i;
                i++;
                var valueStart = i;
                while (i < line.Length && line[i] != (byte)'"')
                {
                    if (line[i] == (byte)'\\' && i + 1 < line.Length && line[i + 1] == (byte)'"')
                    {
                        i++;
                    }
                    else if (line[i] is < 0x20 and not (byte)'\t' or 0x7f)
                    {
                        return Error($"{ByteText.Describe(line[i])} inside the value of option '{name}'", i);
                    }

                    i++;
                }

                if (i >= line.Length)
                {
                    return Error("unterminated quote in options", quote);
                }

                var text = Encoding.UTF8.GetString(line[valueStart..i]);
                if (text.Contains('\\', StringComparison.Ordinal))
                {
                    text = text.Replace("\\\"", "\"", StringComparison.Ordinal);
                }

                i++;
                if (CheckValue(name, text) is { } problem)
                {
                    return Error(problem, valueStart);
                }

                if (name is "command" or "principals" or "from" && Contains(options, name))
                {
                    return Error($"option '{name}' appears more than once", nameStart);
                }

                options.Add(new KeyOption(name, text));
            }

            if (i >= line.Length || line[i] is (byte)' ' or (byte)'\t')
            {
                end = i;
                return null;
            }

            if (line[i] != (byte)',')
            {
                return Error($"unexpected {ByteText.Describe(line[i])} after option '{name}' (options are separated by commas, without spaces)", i);
            }

            i++;
            if (i >= line.Length || line[i] is (byte)' ' or (byte)'\t')
            {
                return Error("options end with a comma", i - 1);
            }
        }
    }

    private static KeyParseError Error(string message, int index) => new(message, index + 1);

    private static bool Contains(List<KeyOption> options, string name)
    {
        foreach (var option in options)
        {
            if (ReferenceEquals(option.Name, name))
            {
                return true;
            }
        }

        return false;
    }

    private static string? CanonicalName(ReadOnlySpan<byte> word, out bool takesValue)
    {
        takesValue = false;
        foreach (var flag in s_flags)
        {
            if (EqualsIgnoreCase(word, flag))
            {
                return flag;
            }
        }

        var negated = word.Length > 3 && EqualsIgnoreCase(word[..3], "no-");
        var flagWord = negated ? word[3..] : word;
        foreach (var flag in s_negatableFlags)
        {
            if (EqualsIgnoreCase(flagWord, flag))
            {
                return negated ? "no-" + flag : flag;
            }
        }

        takesValue = true;
        foreach (var valued in s_valued)
        {
            if (EqualsIgnoreCase(word, valued))
            {
                return valued;
            }
        }

        takesValue = false;
        return null;
    }

    private static bool EqualsIgnoreCase(ReadOnlySpan<byte> word, string name)
    {
        if (word.Length != name.Length)
        {
            return false;
        }

        for (var i = 0; i < word.Length; i++)
        {
            if (char.ToLowerInvariant((char)word[i]) != char.ToLowerInvariant(name[i]))
            {
                return false;
            }
        }

        return true;
    }

    // The same syntax checks sshd makes when it reads the option (auth-options.c).
    private static string? CheckValue(string name, string value)
    {
        switch (name)
        {
            case "expiry-time":
                var digits = value.EndsWith('Z') ? value[..^1] : value;
                return digits.Length is 8 or 12 or 14 && digits.All(char.IsAsciiDigit)
                    ? null
                    : $"expiry-time \"{value}\" is not YYYYMMDD[HHMM[SS]][Z]";
            case "environment":
                var equals = value.IndexOf('=', StringComparison.Ordinal);
                return equals > 0 && value[..equals].All(c => char.IsAsciiLetterOrDigit(c) || c == '_')
                    ? null
                    : $"environment \"{value}\" is not NAME=value (NAME made of letters, digits and '_')";
            case "tunnel":
                return value == "any" || (value.Length is > 0 and < 10 && value.All(char.IsAsciiDigit))
                    ? null
                    : $"tunnel \"{value}\" is not a device number or 'any'";
            case "permitopen":
            case "permitlisten":
                return IsHostPort(value, allowBarePort: name == "permitlisten")
                    ? null
                    : $"{name} \"{value}\" is not host:port (port a number from 1 to 65535, or '*')";
            default:
                return null;
        }
    }

    private static bool IsHostPort(string value, bool allowBarePort)
    {
        string port;
        if (value.StartsWith('['))
        {
            var close = value.IndexOf("]:", StringComparison.Ordinal);
            if (close < 2)
            {
                return false;
            }

            port = value[(close + 2)..];
        }
        else
        {
            var colon = value.LastIndexOf(':');
            if (colon < 0)
            {
                if (!allowBarePort)
                {
                    return false;
                }

                port = value;
            }
            else
            {
                if (colon == 0 || value.IndexOf(':', StringComparison.Ordinal) != colon)
                {
                    return false;
                }

                port = value[(colon + 1)..];
            }
        }

        return port == "*" || (port.Length is > 0 and <= 5 && port.All(char.IsAsciiDigit) && int.Parse(port, System.Globalization.CultureInfo.InvariantCulture) is > 0 and <= 65535);
    }
}
