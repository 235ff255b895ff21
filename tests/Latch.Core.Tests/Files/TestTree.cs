using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Latch.Core.Files;
using Latch.Testing;

namespace Latch.Core.Tests.Files;

/// <summary>
/// A throwaway root-owned directory (mode 0755) under /run, where homes, victims and stand-ins for /root/.ssh
/// and /etc/shadow live. Not under /tmp: a world-writable parent fails the very checks under test.
/// Removed (without following symlinks) on Dispose.
/// </summary>
internal sealed class TestTree : IDisposable
{
    public const int Mode0600 = 0b110_000_000;
    public const int Mode0644 = 0b110_100_100;
    public const int Mode0700 = 0b111_000_000;
    public const int Mode0755 = 0b111_101_101;

    public TestTree()
    {
        Requires.Root();
        Root = "/run/latch-safefile-test-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        Directory.CreateDirectory(Root);
        TestLibc.LChown(Root, 0, 0);
        TestLibc.Chmod(Root, Mode0755);
    }

    public string Root { get; }

    /// <summary>A uid and gid with no passwd entry: enough for SafeFile, which never looks users up.</summary>
    public static (uint Uid, uint Gid) UnusedIds()
    {
        var id = (uint)RandomNumberGenerator.GetInt32(3_000_000, 3_900_000);
        return (id, id);
    }

    public string MakeDirectory(string relative, uint uid, uint gid, int mode)
    {
        var path = Path.Combine(Root, relative);
        Directory.CreateDirectory(path);
        TestLibc.LChown(path, uid, gid);
        TestLibc.Chmod(path, mode);
        return path;
    }

    public string MakeFile(string relative, string content, uint uid, uint gid, int mode)
    {
        var path = Path.Combine(Root, relative);
        File.WriteAllText(path, content);
        TestLibc.LChown(path, uid, gid);
        TestLibc.Chmod(path, mode);
        return path;
    }

    /// <summary>A home (0750, owned by the user) with a .ssh (0700) holding authorized_keys (0600).</summary>
    public UserFileTarget MakeHomeWithKeys(string name, uint uid, uint gid, string? keys = "ssh-ed25519 AAAAold alice\n")
    {
        var home = MakeDirectory(name, uid, gid, 0b111_101_000);
        MakeDirectory(name + "/.ssh", uid, gid, Mode0700);
        if (keys is not null)
        {
            MakeFile(name + "/.ssh/authorized_keys", keys, uid, gid, Mode0600);
        }

        return new UserFileTarget(home, ".ssh/authorized_keys", uid, gid);
    }

    /// <summary>Everything below <paramref name="path"/>: type, owner, mode, mtime, link count and content.</summary>
    public static string Snapshot(string path)
    {
        var text = new StringBuilder();
        Describe(path, text);
        if (Directory.Exists(path) && !TestLibc.LStat(path).IsSymlink)
        {
            foreach (var entry in Directory.EnumerateFileSystemEntries(path, "*", new EnumerationOptions
            {
                RecurseSubdirectories = true, AttributesToSkip = 0, ReturnSpecialDirectories = false,
            }).Order(StringComparer.Ordinal))
            {
                Describe(entry, text);
            }
        }

        return text.ToString();
    }

    public void Dispose()
    {
        // Directory.Delete removes symlinks themselves and never descends through them
        Directory.Delete(Root, recursive: true);
    }

    private static void Describe(string path, StringBuilder text)
    {
        var s = TestLibc.LStat(path);
        text.Append(CultureInfo.InvariantCulture,
            $"{path} {s.Describe()} uid={s.Uid} gid={s.Gid} mode={Convert.ToString(s.Permissions, 8)} links={s.LinkCount} mtime={s.MTimeSeconds}.{s.MTimeNanoseconds}");
        if (s.IsRegularFile)
        {
            text.Append(" sha256=").Append(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path))));
        }
        else if (s.IsSymlink)
        {
            text.Append(" -> ").Append(new FileInfo(path).LinkTarget);
        }

        text.Append('\n');
    }
}
