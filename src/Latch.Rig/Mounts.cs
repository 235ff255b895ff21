using Latch.Rig.Interop;

namespace Latch.Rig;

/// <summary>Reads and undoes mounts of the root mount namespace.</summary>
internal static class Mounts
{
    /// <summary>Mount points at or below <paramref name="directory"/>, deepest (most recently mounted) last.</summary>
    public static IReadOnlyList<string> Under(string directory)
    {
        var prefix = directory.TrimEnd('/');
        var found = new List<string>();
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            // field 5 is the mount point, with space, tab, newline and backslash written as octal escapes
            var point = Unescape(line.Split(' ')[4]);
            if (point == prefix || point.StartsWith(prefix + "/", StringComparison.Ordinal))
            {
                found.Add(point);
            }
        }

        return found;
    }

    /// <summary>Unmounts everything at or below <paramref name="directory"/> in reverse order, lazily when busy.</summary>
    public static void UnmountAll(string directory)
    {
        for (var round = 0; round < 5; round++)
        {
            var points = Under(directory);
            if (points.Count == 0)
            {
                return;
            }

            foreach (var point in points.AsEnumerable().Reverse())
            {
                if (Libc.Umount2(point, 0) != 0)
                {
                    _ = Libc.Umount2(point, Libc.MNT_DETACH);
                }
            }
        }

        var left = Under(directory);
        if (left.Count > 0)
        {
            throw new RigException($"could not unmount {string.Join(", ", left)}; unmount by hand (umount -l) and remove {directory}");
        }
    }

    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var chars = new System.Text.StringBuilder(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length)
            {
                chars.Append((char)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                chars.Append(field[i]);
            }
        }

        return chars.ToString();
    }
}
