namespace Latch.Cli.Config;

/// <summary>
/// Where latch keeps its files, following the XDG base directories: config in <c>$XDG_CONFIG_HOME/latch</c>
/// (or <c>LATCH_CONFIG</c> for the file itself), cache in <c>$XDG_CACHE_HOME/latch</c>, state (audit log,
/// rotation progress) in <c>$XDG_STATE_HOME/latch</c>.
/// </summary>
internal sealed record LatchPaths(string ConfigFile, string CacheDirectory, string StateDirectory, string Home)
{
    public string AuditLog => Path.Combine(StateDirectory, "audit.jsonl");

    public string VmCache => Path.Combine(CacheDirectory, "vms.json");

    public string SessionCache => Path.Combine(CacheDirectory, "session.json");

    public static LatchPaths FromEnvironment(Func<string, string?> env)
    {
        var home = env("HOME") is { Length: > 0 } h ? h : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string Xdg(string variable, string fallback) =>
            env(variable) is { Length: > 0 } value && Path.IsPathRooted(value) ? value : Path.Combine(home, fallback);

        var config = env("LATCH_CONFIG") is { Length: > 0 } file ? file : Path.Combine(Xdg("XDG_CONFIG_HOME", ".config"), "latch", "config.toml");
        return new LatchPaths(
            config,
            Path.Combine(Xdg("XDG_CACHE_HOME", ".cache"), "latch"),
            Path.Combine(Xdg("XDG_STATE_HOME", Path.Combine(".local", "state")), "latch"),
            home);
    }

    /// <summary>Creates a private directory (0700) for latch's own files.</summary>
    public static void EnsurePrivateDirectory(string path)
    {
        if (!Directory.Exists(path))
        {
            Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    /// <summary>Writes a file atomically (temp + rename in the same directory) with mode 0600.</summary>
    public static void WritePrivateFile(string path, string content)
    {
        EnsurePrivateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var temp = $"{path}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        using (var stream = new FileStream(temp, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(content);
        }

        File.Move(temp, path, overwrite: true);
    }
}
