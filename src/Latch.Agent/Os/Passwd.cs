using System.Globalization;

namespace Latch.Agent.Os;

/// <summary>One /etc/passwd entry.</summary>
internal sealed record PasswdEntry(string Name, uint Uid, uint Gid, string Home, string Shell);

/// <summary>The account database of the managed system, read from its files (not NSS: a --root tree has no daemon).</summary>
internal sealed record UserDatabase(IReadOnlyList<PasswdEntry> Users, uint UidMin)
{
    public PasswdEntry? Find(string name) => Users.FirstOrDefault(u => u.Name == name);

    public static UserDatabase Load(HostSystem system)
    {
        var users = new List<PasswdEntry>();
        foreach (var line in (system.TryReadText("/etc/passwd") ?? "").Split('\n'))
        {
            var f = line.Split(':');
            if (f.Length >= 7 && uint.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out var uid)
                && uint.TryParse(f[3], NumberStyles.None, CultureInfo.InvariantCulture, out var gid))
            {
                users.Add(new PasswdEntry(f[0], uid, gid, f[5], f[6]));
            }
        }

        return new UserDatabase(users, ReadUidMin(system.TryReadText("/etc/login.defs")));
    }

    /// <summary>UID_MIN from login.defs (1000 when absent): accounts below it are system accounts.</summary>
    internal static uint ReadUidMin(string? loginDefs)
    {
        foreach (var line in (loginDefs ?? "").Split('\n'))
        {
            var parts = line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 2 && parts[0] == "UID_MIN" && uint.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var min))
            {
                return min;
            }
        }

        return 1000;
    }
}
