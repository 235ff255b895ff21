using System.Globalization;
using System.Text;
using Latch.Agent.KeyStore;
using Latch.Core.Keys;

namespace Latch.Agent.Guard;

/// <summary>
/// <c>latchd authorized-keys [--store DIR] USER [FINGERPRINT [TYPE [KEY]]]</c>, run by sshd as its
/// AuthorizedKeysCommand with <c>%u %f %t %k</c>: prints the user's managed, currently valid keys from the root-owned
/// key store and exits 0. It never touches the network, never takes a lock (the store is replaced by rename, so a
/// read sees the last complete version), and treats a missing, refused or corrupt store as "no managed keys", so the
/// user's own authorized_keys keeps working. Problems go to stderr (sshd discards it) and to syslog.
/// </summary>
/// <remarks>
/// When sshd passes the offered key (<c>%t %k</c>, or only <c>%f</c>), only that key's line is printed: sshd accepts
/// the login exactly when the offered key is among the lines, so the answer is the same, and fewer lines mean less
/// work for sshd and nothing printed about the user's other keys. Without them, every valid key is printed.
/// This path is dispatched before the command-line parser is built, to keep process start cheap.
/// </remarks>
internal static class AuthorizedKeysCommand
{
    public const string Name = "authorized-keys";

    /// <summary>Exit code: always 0, since sshd ignores everything printed by a command that fails.</summary>
    public static int Run(IReadOnlyList<string> args, Stream stdout, TextWriter stderr, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(args);
        var store = KeyStoreFiles.DefaultDirectory;
        var at = 0;
        if (args.Count >= 2 && args[0] == "--store")
        {
            store = args[1];
            at = 2;
        }

        if (args.Count - at is < 1 or > 4)
        {
            stderr.WriteLine("usage: latchd authorized-keys [--store DIR] USER [FINGERPRINT [TYPE [KEY]]]  (sshd: %u %f %t %k)");
            return 0;
        }

        var user = args[at];
        var fingerprint = Arg(args, at + 1);
        var type = Arg(args, at + 2);
        var key = Arg(args, at + 3);
        if (!KeyStoreDocument.IsValidUserName(user))
        {
            Report(stderr, $"refused the user name '{KeyStoreFiles.Printable(user)}': not a valid user name; printing no keys", important: true);
            return 0;
        }

        var content = KeyStoreFiles.ReadChecked(store, user, out var status, out var problem);
        if (content is null)
        {
            // a user without managed keys is the common case: not worth a syslog line per login
            Report(stderr, $"no managed keys for {user}: {problem}", important: status != StoreReadStatus.Missing);
            return 0;
        }

        var output = new MemoryStream(content.Length);
        var error = Select(content, user, time.GetUtcNow().ToUnixTimeSeconds(), fingerprint, type, key, output, out var printed);
        if (error is not null)
        {
            Report(stderr, $"{store}/{user} is corrupt ({error}); printing no managed keys; run 'latchd keys refresh' to rewrite it", important: true);
            return 0;
        }

        output.WriteTo(stdout);
        stdout.Flush();
        _ = printed;
        return 0;
    }

    /// <summary>
    /// Scans a store file and writes the lines of the keys to print to <paramref name="output"/>. Returns an error
    /// (and writes nothing usable) when the file is not a complete v1 store for <paramref name="user"/>.
    /// </summary>
    internal static string? Select(
        byte[] content, string user, long now, string? fingerprint, string? type, string? key, MemoryStream output, out int printed)
    {
        printed = 0;
        var text = Encoding.UTF8.GetString(content);
        var lines = text.Split('\n');
        if (lines.Length < 4 || lines[0] != KeyStoreDocument.Header || lines[^1].Length != 0)
        {
            return "not a complete latch key store v1";
        }

        if (lines[1] != "user\t" + user)
        {
            return "its user record does not name " + user;
        }

        var records = 1;
        var selected = new List<string>();
        for (var i = 2; i < lines.Length - 1; i++)
        {
            var line = lines[i];
            if (line.StartsWith("key\t", StringComparison.Ordinal))
            {
                var fields = line.Split('\t', 7);
                if (fields.Length != 7 || !TryTime(fields[2], out var nbf) || !TryTime(fields[3], out var exp) || fields[6].Length == 0)
                {
                    return $"line {i + 1} is not a valid key record";
                }

                records++;
                if ((nbf is { } start && now < start) || (exp is { } end && now >= end))
                {
                    continue;
                }

                if (Matches(fields[4], fields[5], fingerprint, type, key))
                {
                    selected.Add(fields[6]);
                }
            }
            else if (line.StartsWith("retired\t", StringComparison.Ordinal))
            {
                records++;
            }
            else if (line.StartsWith("end\t", StringComparison.Ordinal) && i == lines.Length - 2)
            {
                if (line != "end\t" + records.ToString(CultureInfo.InvariantCulture))
                {
                    return "its end record does not count the records before it";
                }

                foreach (var keyLine in selected)
                {
                    var bytes = Encoding.UTF8.GetBytes(keyLine + "\n");
                    output.Write(bytes);
                }

                printed = selected.Count;
                return null;
            }
            else
            {
                return $"line {i + 1} is not a record";
            }
        }

        return "it has no end record";
    }

    private static bool Matches(string storedType, string storedBase64, string? fingerprint, string? type, string? key)
    {
        if (key is { Length: > 0 })
        {
            // %t %k: the offered key itself; the type may differ for certificates, whose %k is the certificate blob
            return storedBase64 == key && (type is not { Length: > 0 } || storedType == type);
        }

        if (fingerprint is { Length: > 0 } && fingerprint.StartsWith("SHA256:", StringComparison.Ordinal))
        {
            try
            {
                return Fingerprint.Sha256(Convert.FromBase64String(storedBase64)) == fingerprint;
            }
            catch (FormatException)
            {
                return false;
            }
        }

        return true;
    }

    private static bool TryTime(string field, out long? time)
    {
        time = null;
        if (field == "-")
        {
            return true;
        }

        if (long.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            time = value;
            return true;
        }

        return false;
    }

    private static string? Arg(IReadOnlyList<string> args, int index) => index < args.Count && args[index] is { Length: > 0 } a && a != "none" ? a : null;

    private static void Report(TextWriter stderr, string message, bool important)
    {
        stderr.WriteLine("latchd authorized-keys: " + message);
        if (important)
        {
            Syslog.Send(Syslog.Warning, "latchd-akc", message);
        }
    }
}
