namespace Latch.Agent.Guard.Install;

/// <summary>One AuthorizedKeysCommand setting found in an sshd configuration file.</summary>
internal sealed record AkcSetting(string File, int Line, string Value, bool InMatchBlock);

/// <summary>
/// Reads what sshd would use: <c>sshd -T</c> for the effective global values, and a scan of sshd_config and its
/// sshd_config.d/*.conf files to say where an AuthorizedKeysCommand comes from (sshd uses the first one it reads).
/// </summary>
internal static class SshdConfigScan
{
    /// <summary>The value of one keyword in <c>sshd -T</c> output (keywords are printed lower-case), or null.</summary>
    public static string? Effective(string sshdT, string keyword)
    {
        foreach (var line in sshdT.Split('\n'))
        {
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            if (space > 0 && line.AsSpan(0, space).Equals(keyword, StringComparison.OrdinalIgnoreCase))
            {
                return line[(space + 1)..].Trim();
            }
        }

        return null;
    }

    /// <summary>Every AuthorizedKeysCommand line in the main file and the drop-in directory, in sshd's reading order.</summary>
    public static IReadOnlyList<AkcSetting> FindCommands(GuardLayout layout)
    {
        var files = new List<string> { layout.SshdConfig };
        if (Directory.Exists(layout.SshdConfigDir))
        {
            var dropIns = Directory.GetFiles(layout.SshdConfigDir, "*.conf");
            Array.Sort(dropIns, StringComparer.Ordinal);
            files.AddRange(dropIns);
        }

        var found = new List<AkcSetting>();
        foreach (var file in files)
        {
            string[] lines;
            try
            {
                lines = File.ReadAllLines(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            var inMatch = false;
            for (var i = 0; i < lines.Length; i++)
            {
                var words = lines[i].Trim().Split((char[])[' ', '\t', '='], 2, StringSplitOptions.RemoveEmptyEntries);
                if (words.Length == 0 || words[0].StartsWith('#'))
                {
                    continue;
                }

                if (words[0].Equals("Match", StringComparison.OrdinalIgnoreCase))
                {
                    inMatch = true;
                }
                else if (words[0].Equals("AuthorizedKeysCommand", StringComparison.OrdinalIgnoreCase))
                {
                    found.Add(new AkcSetting(file, i + 1, words.Length > 1 ? words[1].Trim() : "", inMatch));
                }
            }
        }

        return found;
    }
}
