using System.Text.RegularExpressions;

namespace Latch.Agent.Provisioning;

/// <summary>Which user and host names latchd accepts from provisioning data.</summary>
internal static partial class NameRules
{
    /// <summary>Longest user name useradd accepts (utmp's limit).</summary>
    public const int MaxUserNameLength = 32;

    /// <summary>Linux HOST_NAME_MAX.</summary>
    public const int MaxHostNameLength = 64;

    // Names the image already uses for system accounts or services on Debian, and names Azure itself refuses.
    private static readonly HashSet<string> s_reserved = new(StringComparer.Ordinal)
    {
        "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy", "www-data",
        "backup", "list", "irc", "gnats", "nobody", "nogroup", "sshd", "messagebus", "_apt", "systemd-network",
        "systemd-resolve", "systemd-timesync", "systemd-coredump", "polkitd", "syslog", "adm", "sudo", "staff",
        "users", "operator", "halt", "shutdown", "ftp", "admin", "administrator", "guest", "console", "support",
    };

    // shadow's default NAME_REGEX (useradd, chkname.c): lower-case letter or '_', then letters, digits, '_' or '-',
    // optionally a final '$'. \z, not $: .NET's $ also matches before a final newline. Debian's useradd is laxer (it accepts upper case); Azure and waagent never need that.
    [GeneratedRegex(@"^[a-z_][a-z0-9_-]*[$]?\z", RegexOptions.CultureInvariant)]
    private static partial Regex UserNamePattern();

    [GeneratedRegex(@"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\z", RegexOptions.CultureInvariant)]
    private static partial Regex HostLabelPattern();

    /// <summary>Null when <paramref name="name"/> is an acceptable new admin user name, else why not.</summary>
    public static string? CheckUserName(string name)
    {
        if (name.Length == 0)
        {
            return "the user name is empty";
        }

        if (name.Length > MaxUserNameLength)
        {
            return $"the user name is {name.Length} characters; useradd accepts at most {MaxUserNameLength}";
        }

        if (!UserNamePattern().IsMatch(name))
        {
            return $"the user name '{Printable(name)}' is not accepted by useradd's default rule ^[a-z_][a-z0-9_-]*[$]?$ (lower-case letters, digits, '_' and '-', starting with a letter or '_')";
        }

        if (s_reserved.Contains(name) || name.StartsWith("systemd-", StringComparison.Ordinal))
        {
            return $"the user name '{name}' is reserved for a system account; choose another admin user name";
        }

        return null;
    }

    /// <summary>Null when <paramref name="name"/> is an acceptable host name (RFC 1123 labels, at most 64 characters).</summary>
    public static string? CheckHostName(string name)
    {
        if (name.Length is 0 or > MaxHostNameLength)
        {
            return $"the host name must have 1 to {MaxHostNameLength} characters, got {name.Length}";
        }

        return name.Split('.').All(l => HostLabelPattern().IsMatch(l))
            ? null
            : $"the host name '{Printable(name)}' is not a valid DNS name (letters, digits and '-' in dot-separated labels, no '-' at a label's ends)";
    }

    /// <summary>Text from outside, safe to put in a log line or a report.</summary>
    public static string Printable(string text)
    {
        var clipped = text.Length > 80 ? text[..80] + "…" : text;
        return string.Concat(clipped.Select(c => char.IsControl(c) || c > '~' ? $"\\u{(int)c:x4}" : c.ToString()));
    }
}
