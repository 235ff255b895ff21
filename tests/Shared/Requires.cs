using System.Runtime.InteropServices;

namespace Latch.Testing;

/// <summary>
/// Preconditions for tests that need root or a system tool. Outside CI a missing precondition skips the
/// test with the reason; in CI (CI=true) it fails, so a green run never hides a test that did not run.
/// </summary>
internal static partial class Requires
{
    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public static void Root()
    {
        if (geteuid() != 0)
        {
            Unmet("this test needs root (run the tests as root: sudo ./test.sh)");
        }
    }

    /// <summary>Returns the absolute path of a program found on PATH (or the given absolute path).</summary>
    public static string Tool(string name, string? package = null)
    {
        var found = Which(name);
        if (found is null)
        {
            Unmet($"this test needs '{name}' (apt-get install {package ?? name}, or run scripts/install-deps.sh)");
        }

        return found!;
    }

    public static string? Which(string name)
    {
        if (Path.IsPathRooted(name))
        {
            return File.Exists(name) ? name : null;
        }

        var path = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
        foreach (var dir in path.Split(':').Concat(["/usr/sbin", "/sbin"]))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static void Unmet(string reason)
    {
        if (InCi)
        {
            Assert.Fail("CI=true and a precondition is unmet: " + reason);
        }

        Assert.Skip(reason);
    }

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint geteuid();
}
