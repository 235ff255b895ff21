using System.Reflection;

namespace Latch.Rig;

/// <summary>Finds the repository (the directory holding Latch.slnx) and the programs built in it.</summary>
internal static class RepoPaths
{
    private static readonly Lazy<string> s_root = new(FindRoot);

    public static string Root => s_root.Value;

    public static string RootFsScript => Path.Combine(Root, "scripts", "rootfs.sh");

    /// <summary>The build configuration the tests were built with (Debug/Release), used to find sibling outputs.</summary>
    public static string Configuration =>
        typeof(RepoPaths).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Latch.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new RigException($"no Latch.slnx above {AppContext.BaseDirectory}: run the tests from a Latch checkout");
    }

    /// <summary>The first executable called <paramref name="name"/> on PATH (then /usr/sbin, /sbin), or null.</summary>
    public static string? Which(string name)
    {
        if (Path.IsPathRooted(name))
        {
            return File.Exists(name) ? name : null;
        }

        var path = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
        return path.Split(':').Concat(["/usr/sbin", "/sbin"])
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
    }
}
