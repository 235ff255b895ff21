using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Latch.Testing;

namespace Latch.Core.Tests.Files;

/// <summary>A real throwaway account (lt-xxxxxxxx) made with useradd and removed with userdel.</summary>
internal sealed class TestUser : IDisposable
{
    public TestUser(string home)
    {
        Requires.Root();
        Requires.Tool("useradd", "passwd");
        Name = "lt-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        Run("useradd", "--no-create-home", "--home-dir", home, "--shell", "/usr/sbin/nologin", "--user-group", Name);
        Uid = uint.Parse(Run("id", "-u", Name), CultureInfo.InvariantCulture);
        Gid = uint.Parse(Run("id", "-g", Name), CultureInfo.InvariantCulture);
    }

    public string Name { get; }

    public uint Uid { get; }

    public uint Gid { get; }

    public void Dispose() => Run("userdel", Name);

    private static string Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0
            ? output.Trim()
            : throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed ({process.ExitCode}): {error}");
    }
}
