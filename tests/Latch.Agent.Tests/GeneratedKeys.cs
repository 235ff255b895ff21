using Latch.Core.Keys;

namespace Latch.Agent.Tests;

/// <summary>Key pairs made by the real ssh-keygen once per test run (Keys holds fixed public keys).</summary>
internal static class GeneratedKeys
{
    private static readonly Lazy<string> s_directory = new(() =>
    {
        var dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "latch-agent-test-keys-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        return dir;
    });

    private static readonly Dictionary<string, (string Private, string Public)> s_made = [];

    public static (string PrivatePath, string PublicLine) Make(string name, string type = "ed25519")
    {
        lock (s_made)
        {
            if (!s_made.TryGetValue(name, out var made))
            {
                var path = System.IO.Path.Combine(s_directory.Value, name);
                var args = type == "rsa" ? new[] { "ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-C", name, "-f", path }
                    : new[] { "ssh-keygen", "-q", "-t", type, "-N", "", "-C", name, "-f", path };
                TestDirectory.Run(args);
                made = (path, File.ReadAllText(path + ".pub").Trim());
                s_made[name] = made;
            }

            return made;
        }
    }

    public static SshPublicKey Public(string name) => SshPublicKey.Parse(Make(name).PublicLine);
}
