using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using Latch.Core.Keys;

namespace Latch.Agent.KeyStore;

/// <summary>
/// One user's key store file, <c>/var/lib/latch/keys/USER</c>. Text, one record a line, tab-separated:
/// <code>
/// # latch key store v1 (written by latchd; edit with 'latchd keys', not by hand)
/// user	alice
/// key	SOURCE	NOT_BEFORE	EXPIRES	TYPE	BASE64	LINE
/// retired	SOURCE	RETIRED_AT	TYPE	BASE64	LINE
/// end	COUNT
/// </code>
/// Times are Unix seconds or <c>-</c>. TYPE and BASE64 repeat the line's key so the AuthorizedKeysCommand can match
/// sshd's <c>%t %k</c> without parsing the line. The <c>end</c> record counts the records before it, so a file cut
/// short (a bad disk, a copy gone wrong; latchd itself only ever renames complete files into place) is detected.
/// </summary>
internal sealed record KeyStoreDocument(string User, IReadOnlyList<ManagedKey> Keys, IReadOnlyList<RetiredKey> Retired)
{
    public const string Header = "# latch key store v1 (written by latchd; edit with 'latchd keys', not by hand)";
    private static readonly SearchValues<char> s_sourceChars =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:._/@+=-");

    public static KeyStoreDocument Empty(string user) => new(user, [], []);

    /// <summary>A user name latchd accepts as a store file name: what useradd accepts, never '.', '..' or a path.</summary>
    public static bool IsValidUserName([NotNullWhen(true)] string? user) =>
        user is { Length: > 0 and <= 64 } && user[0] is not ('-' or '.')
        && user.AsSpan().IndexOfAnyExcept(s_userChars) < 0;

    private static readonly SearchValues<char> s_userChars =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");

    public static void RequireSource(string source)
    {
        if (string.IsNullOrEmpty(source) || source.Length > 200 || source.AsSpan().IndexOfAnyExcept(s_sourceChars) >= 0)
        {
            throw new ArgumentException($"key source '{source}' must be 1-200 characters of letters, digits and :._/@+=-", nameof(source));
        }
    }

    public byte[] Format()
    {
        var text = new StringBuilder();
        text.Append(Header).Append('\n');
        text.Append("user\t").Append(User).Append('\n');
        var count = 1;
        foreach (var key in Keys)
        {
            text.Append("key\t").Append(key.Source).Append('\t').Append(Time(key.NotBefore)).Append('\t').Append(Time(key.ExpiresOn))
                .Append('\t').Append(KeyFields(key.Key)).Append('\n');
            count++;
        }

        foreach (var retired in Retired)
        {
            text.Append("retired\t").Append(retired.Source).Append('\t').Append(Time(retired.RetiredAt))
                .Append('\t').Append(KeyFields(retired.Key)).Append('\n');
            count++;
        }

        text.Append("end\t").Append(count.ToString(CultureInfo.InvariantCulture)).Append('\n');
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    public static bool TryParse(ReadOnlySpan<byte> content, string expectedUser, [NotNullWhen(true)] out KeyStoreDocument? document, [NotNullWhen(false)] out string? error)
    {
        document = null;
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(content);
        }
        catch (DecoderFallbackException)
        {
            error = "it is not valid UTF-8";
            return false;
        }

        var lines = text.Split('\n');
        if (lines.Length < 4 || lines[0] != Header || lines[^1].Length != 0)
        {
            error = lines.Length > 0 && lines[0] != Header ? "its first line is not the latch key store v1 header" : "it is cut short (no final newline or too few lines)";
            return false;
        }

        var keys = new List<ManagedKey>();
        var retired = new List<RetiredKey>();
        string? user = null;
        var records = 0;
        for (var i = 1; i < lines.Length - 1; i++)
        {
            var number = i + 1;
            var fields = lines[i].Split('\t');
            switch (fields[0])
            {
                case "user" when fields.Length == 2 && i == 1:
                    user = fields[1];
                    if (user != expectedUser)
                    {
                        error = $"line {number} names user '{user}', but the file is for '{expectedUser}'";
                        return false;
                    }

                    records++;
                    break;
                case "key" when fields.Length == 7 && user is not null:
                    if (!TryKey(fields[4], fields[5], fields[6], number, out var key, out error)
                        || !TryTime(fields[2], number, out var nbf, out error) || !TryTime(fields[3], number, out var exp, out error))
                    {
                        return false;
                    }

                    keys.Add(new ManagedKey(key, fields[1], nbf, exp));
                    records++;
                    break;
                case "retired" when fields.Length == 6 && user is not null:
                    if (!TryKey(fields[3], fields[4], fields[5], number, out var old, out error) || !TryTime(fields[2], number, out var at, out error))
                    {
                        return false;
                    }

                    retired.Add(new RetiredKey(old, fields[1], at ?? DateTimeOffset.UnixEpoch));
                    records++;
                    break;
                case "end" when fields.Length == 2 && i == lines.Length - 2:
                    if (fields[1] != records.ToString(CultureInfo.InvariantCulture))
                    {
                        error = $"its end record counts {fields[1]} records but {records} precede it";
                        return false;
                    }

                    document = new KeyStoreDocument(expectedUser, keys, retired);
                    error = null;
                    return true;
                default:
                    error = $"line {number} is not a user, key, retired or end record in the right place";
                    return false;
            }
        }

        error = "it has no end record (cut short)";
        return false;
    }

    private static string KeyFields(SshPublicKey key)
    {
        var line = key.ToLine();
        if (line.Contains('\t', StringComparison.Ordinal) || line.Contains('\n', StringComparison.Ordinal))
        {
            throw new ArgumentException($"key {key.Sha256Fingerprint} has a tab or newline in its line; it cannot be stored");
        }

        return key.Type + "\t" + Convert.ToBase64String(key.Blob.Span) + "\t" + line;
    }

    private static bool TryKey(string type, string base64, string line, int number, [NotNullWhen(true)] out SshPublicKey? key, [NotNullWhen(false)] out string? error)
    {
        if (!SshPublicKey.TryParse(line, out key, out var parseError))
        {
            error = $"line {number} holds an invalid key: {parseError}";
            return false;
        }

        if (key.Type != type || Convert.ToBase64String(key.Blob.Span) != base64)
        {
            error = $"line {number}: the key fields do not match the key line";
            key = null;
            return false;
        }

        error = null;
        return true;
    }

    private static string Time(DateTimeOffset? time) =>
        time is { } t ? t.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture) : "-";

    private static bool TryTime(string field, int number, out DateTimeOffset? time, [NotNullWhen(false)] out string? error)
    {
        time = null;
        error = null;
        if (field == "-")
        {
            return true;
        }

        if (long.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds < 253402300799)
        {
            time = DateTimeOffset.FromUnixTimeSeconds(seconds);
            return true;
        }

        error = $"line {number}: '{field}' is not a time in Unix seconds or '-'";
        return false;
    }
}
