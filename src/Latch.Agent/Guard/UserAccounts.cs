using System.Globalization;

namespace Latch.Agent.Guard;

/// <summary>A local account the guard writes for.</summary>
internal sealed record UserAccount(string Name, uint Uid, uint Gid, string Home);

/// <summary>Looks users up in the passwd file (the guard runs as root on the VM; NSS-only users are not managed).</summary>
internal sealed class UserAccounts(string passwdPath = "/etc/passwd")
{
    public UserAccount? Find(string name)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(passwdPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        foreach (var line in lines)
        {
            var f = line.Split(':');
            if (f.Length >= 7 && f[0] == name
                && uint.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out var uid)
                && uint.TryParse(f[3], NumberStyles.None, CultureInfo.InvariantCulture, out var gid)
                && f[5].StartsWith('/'))
            {
                return new UserAccount(f[0], uid, gid, f[5]);
            }
        }

        return null;
    }
}
