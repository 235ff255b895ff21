namespace Latch.Testing;

/// <summary>The one piece of tests/Shared/Requires.cs the rig uses (that file needs xunit, which a bench does not load).</summary>
internal static class Requires
{
    public static string? Which(string name)
    {
        if (Path.IsPathRooted(name))
        {
            return File.Exists(name) ? name : null;
        }

        var path = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
        return path.Split(':').Concat(["/usr/sbin", "/sbin"]).Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
    }
}
