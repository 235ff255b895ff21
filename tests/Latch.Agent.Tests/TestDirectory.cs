using System.Diagnostics;
using Latch.Testing;

namespace Latch.Agent.Tests;

/// <summary>
/// A scratch tree under /run (root-owned, not group/world-writable all the way up, unlike /tmp), so the key store's
/// and SafeFile's ownership checks pass the way they do on a VM. Needs root; removed on dispose.
/// </summary>
internal sealed class TestDirectory : IDisposable
{
    private const UnixFileMode Mode0755 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    public TestDirectory()
    {
        Requires.Root();
        Path = "/run/latch-agent-tests/" + Guid.NewGuid().ToString("N")[..12];
        Directory.CreateDirectory("/run/latch-agent-tests", Mode0755);
        File.SetUnixFileMode("/run/latch-agent-tests", Mode0755);
        Directory.CreateDirectory(Path, Mode0755);
        File.SetUnixFileMode(Path, Mode0755);
    }

    public string Path { get; }

    public string Combine(string relative) => System.IO.Path.Combine(Path, relative);

    /// <summary>A directory owned by root, mode 0755.</summary>
    public string RootDirectory(string relative)
    {
        var path = Combine(relative);
        Directory.CreateDirectory(path, Mode0755);
        File.SetUnixFileMode(path, Mode0755);
        return path;
    }

    /// <summary>A home directory owned by <paramref name="uid"/> (0700) with a passwd line for it in ./passwd.</summary>
    public Guard.UserAccount Home(string user, uint uid)
    {
        var home = Combine("home/" + user);
        RootDirectory("home");
        Directory.CreateDirectory(home);
        File.SetUnixFileMode(home, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Chown(home, uid);
        File.AppendAllText(PasswdPath, $"{user}:x:{uid}:{uid}::{home}:/bin/sh\n");
        return new Guard.UserAccount(user, uid, uid, home);
    }

    public string PasswdPath => Combine("passwd");

    public static void Chown(string path, uint uid) => Run("chown", "-h", $"{uid}:{uid}", path);

    public static string Run(params string[] argv)
    {
        var start = new ProcessStartInfo(argv[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in argv.Skip(1))
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{string.Join(' ', argv)} failed: {error}");
        return output;
    }

    public void Dispose()
    {
        if (Directory.Exists(Path))
        {
            Run("rm", "-rf", "--one-file-system", Path);
        }
    }
}
