namespace Latch.Agent.Config;

/// <summary>Finds and reads latchd's configuration: <c>--config FILE</c>, else /etc/latch/latchd.toml, else /etc/waagent.conf.</summary>
internal static class ConfigLoader
{
    public const string DefaultPath = "/etc/latch/latchd.toml";
    public const string WaagentPath = "/etc/waagent.conf";

    /// <summary>Loads the settings; <paramref name="root"/> prefixes the default paths (not an explicit <paramref name="explicitPath"/>).</summary>
    public static AgentConfig Load(string? explicitPath, string root)
    {
        if (explicitPath is not null)
        {
            return LoadFile(explicitPath, required: true) ?? new AgentConfig();
        }

        return LoadFile(RootPath.Join(root, DefaultPath), required: false)
            ?? LoadFile(RootPath.Join(root, WaagentPath), required: false)
            ?? new AgentConfig();
    }

    public static AgentConfig? LoadFile(string path, bool required)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException && !required)
        {
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"cannot read the configuration file {path}: {e.Message}", e);
        }

        return path.EndsWith(".toml", StringComparison.OrdinalIgnoreCase)
            ? AgentConfig.From(ConfigFile.ParseToml(text, path), path, strict: true)
            : AgentConfig.From(ConfigFile.ParseWaagentConf(text), path, strict: false);
    }
}

/// <summary>Joins the <c>--root</c> prefix and an absolute path of the managed system.</summary>
internal static class RootPath
{
    public static string Join(string root, string absolute) =>
        root == "/" ? absolute : root.TrimEnd('/') + (absolute.StartsWith('/') ? absolute : "/" + absolute);
}
