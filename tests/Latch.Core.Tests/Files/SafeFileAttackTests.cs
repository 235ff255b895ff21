using System.Diagnostics;
using System.Text;
using Latch.Core.Files;

namespace Latch.Core.Tests.Files;

/// <summary>
/// The classic attacks on a root process that writes into a user's home. Each must be refused with
/// nothing outside the home touched: the victim's bytes, owner, mode, link count and mtime are compared.
/// The victims are stand-ins with the same ownership as /root/.ssh and /etc/shadow, never the real ones.
/// </summary>
public sealed class SafeFileAttackTests : IDisposable
{
    private readonly TestTree _tree = new();
    private readonly uint _uid;
    private readonly uint _gid;

    public SafeFileAttackTests() => (_uid, _gid) = TestTree.UnusedIds();

    public void Dispose() => _tree.Dispose();

    [Fact]
    public void Refuses_an_ssh_directory_that_is_a_symlink_to_a_root_owned_directory()
    {
        var rootSsh = _tree.MakeDirectory("root-ssh", 0, 0, TestTree.Mode0700);
        _tree.MakeFile("root-ssh/authorized_keys", "ssh-ed25519 AAAAroot admin\n", 0, 0, TestTree.Mode0600);
        var home = _tree.MakeDirectory("alice", _uid, _gid, TestTree.Mode0700);
        File.CreateSymbolicLink(home + "/.ssh", rootSsh);
        TestLibc.LChown(home + "/.ssh", _uid, _gid);
        var before = TestTree.Snapshot(rootSsh);
        var target = new UserFileTarget(home, ".ssh/authorized_keys", _uid, _gid);

        var write = Assert.Throws<SafeFileException>(() => SafeFile.Update(target, AppendAttackerKey, cancellationToken: TestContext.Current.CancellationToken));
        var read = Assert.Throws<SafeFileException>(() => SafeFile.Read(target));

        Assert.Equal(SafeFileFailure.SymlinkRefused, write.Reason);
        Assert.Equal(SafeFileFailure.SymlinkRefused, read.Reason);
        Assert.Contains($"refusing to write {home}/.ssh/authorized_keys: {home}/.ssh is a symbolic link", write.Message, StringComparison.Ordinal);
        Assert.Equal(before, TestTree.Snapshot(rootSsh));
    }

    [Fact]
    public void Refuses_authorized_keys_that_is_a_symlink_to_a_shadow_stand_in()
    {
        var shadow = _tree.MakeFile("shadow", "root:$6$salt$hash:19000:0:99999:7:::\n", 0, 42, 0b110_100_000);
        var target = _tree.MakeHomeWithKeys("alice", _uid, _gid, keys: null);
        var keys = target.Home + "/.ssh/authorized_keys";
        File.CreateSymbolicLink(keys, shadow);
        TestLibc.LChown(keys, _uid, _gid);
        var before = TestTree.Snapshot(shadow);

        var write = Assert.Throws<SafeFileException>(() => SafeFile.Update(target, AppendAttackerKey, cancellationToken: TestContext.Current.CancellationToken));
        var read = Assert.Throws<SafeFileException>(() => SafeFile.Read(target));

        Assert.Equal(SafeFileFailure.SymlinkRefused, write.Reason);
        Assert.Equal(SafeFileFailure.SymlinkRefused, read.Reason);
        Assert.Equal(before, TestTree.Snapshot(shadow));
        Assert.True(TestLibc.LStat(keys).IsSymlink, "the refused link is left for the admin to look at");
    }

    [Fact]
    public void Refuses_authorized_keys_hard_linked_to_a_root_owned_file()
    {
        var victim = _tree.MakeFile("root-secret", "root only\n", 0, 0, TestTree.Mode0600);
        var target = _tree.MakeHomeWithKeys("alice", _uid, _gid, keys: null);
        var keys = target.Home + "/.ssh/authorized_keys";
        TestLibc.HardLink(victim, keys);
        var before = TestTree.Snapshot(victim);

        var write = Assert.Throws<SafeFileException>(() => SafeFile.Update(target, AppendAttackerKey, cancellationToken: TestContext.Current.CancellationToken));
        var read = Assert.Throws<SafeFileException>(() => SafeFile.Read(target));

        Assert.Equal(SafeFileFailure.MultipleHardLinks, write.Reason);
        Assert.Equal(SafeFileFailure.MultipleHardLinks, read.Reason);
        Assert.Equal(
            $"refusing to write {keys}: it has 2 hard links, so it may be another file in disguise; remove the extra link and retry",
            write.Message);
        Assert.Equal(before, TestTree.Snapshot(victim));
    }

    [Fact]
    public void Refuses_a_home_owned_by_another_user()
    {
        var (otherUid, otherGid) = TestTree.UnusedIds();
        var target = _tree.MakeHomeWithKeys("bob", otherUid, otherGid) with { Uid = _uid, Gid = _gid };
        var before = TestTree.Snapshot(target.Home);

        var write = Assert.Throws<SafeFileException>(() => SafeFile.Update(target, AppendAttackerKey, cancellationToken: TestContext.Current.CancellationToken));
        var read = Assert.Throws<SafeFileException>(() => SafeFile.Read(target));

        Assert.Equal(SafeFileFailure.UnsafeOwner, write.Reason);
        Assert.Equal(SafeFileFailure.UnsafeOwner, read.Reason);
        Assert.Contains($"{target.Home} is owned by uid {otherUid}, not by the user (uid {_uid})", write.Message, StringComparison.Ordinal);
        Assert.Equal(before, TestTree.Snapshot(target.Home));
    }

    [Fact]
    public void Refuses_an_ssh_directory_owned_by_root_inside_the_home()
    {
        var target = _tree.MakeHomeWithKeys("alice", _uid, _gid);
        TestLibc.LChown(target.Home + "/.ssh", 0, 0);
        var before = TestTree.Snapshot(target.Home);

        var write = Assert.Throws<SafeFileException>(() => SafeFile.Update(target, AppendAttackerKey, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(SafeFileFailure.UnsafeOwner, write.Reason);
        Assert.Equal(before, TestTree.Snapshot(target.Home));
    }

    [Fact]
    public void Never_writes_outside_the_home_while_the_ssh_directory_is_swapped_for_a_symlink()
    {
        var rootSsh = _tree.MakeDirectory("root-ssh", 0, 0, TestTree.Mode0700);
        _tree.MakeFile("root-ssh/authorized_keys", "ssh-ed25519 AAAAroot admin\n", 0, 0, TestTree.Mode0600);
        var target = _tree.MakeHomeWithKeys("alice", _uid, _gid);
        var swap = target.Home + "/.ssh-swap";
        File.CreateSymbolicLink(swap, rootSsh);
        TestLibc.LChown(swap, _uid, _gid);
        var before = TestTree.Snapshot(rootSsh);

        var (written, refused) = RaceUpdates(target, target.Home + "/.ssh", swap, swaps: 2_000);

        Assert.Equal(before, TestTree.Snapshot(rootSsh));
        Assert.True(refused > 0, "the swap never landed before an update, so the attack was not exercised");
        TestContext.Current.TestOutputHelper?.WriteLine($"{written} updates written, {refused} refused during 2000 swaps");
    }

    [Fact]
    public void Never_writes_outside_the_home_while_authorized_keys_is_swapped_for_a_symlink()
    {
        var shadow = _tree.MakeFile("shadow", "root:$6$salt$hash:19000:0:99999:7:::\n", 0, 42, 0b110_100_000);
        var target = _tree.MakeHomeWithKeys("alice", _uid, _gid);
        var swap = target.Home + "/.ssh/keys-swap";
        File.CreateSymbolicLink(swap, shadow);
        TestLibc.LChown(swap, _uid, _gid);
        var before = TestTree.Snapshot(shadow);

        var (written, refused) = RaceUpdates(target, target.Home + "/.ssh/authorized_keys", swap, swaps: 2_000);

        Assert.Equal(before, TestTree.Snapshot(shadow));
        Assert.DoesNotContain("root:$6$", TestTree.Snapshot(target.Home) + ReadAllRegularFiles(target.Home + "/.ssh"), StringComparison.Ordinal);
        Assert.True(refused > 0, "the swap never landed before an update, so the attack was not exercised");
        TestContext.Current.TestOutputHelper?.WriteLine($"{written} updates written, {refused} refused during 2000 swaps");
    }

    [Fact]
    public void Refuses_a_home_below_a_directory_the_user_owns()
    {
        var users = _tree.MakeDirectory("users", _uid, _gid, TestTree.Mode0755);
        _tree.MakeHomeWithKeys("users/alice", _uid, _gid);
        var target = new UserFileTarget(users + "/alice", ".ssh/authorized_keys", _uid, _gid);

        var error = Assert.Throws<SafeFileException>(() => SafeFile.Update(target, AppendAttackerKey, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(SafeFileFailure.UnsafeOwner, error.Reason);
        Assert.Contains($"{users} is owned by uid {_uid}, but every directory above it must be owned by root", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_a_home_below_a_group_writable_directory()
    {
        var users = _tree.MakeDirectory("users", 0, 0, 0b111_111_101);
        _tree.MakeHomeWithKeys("users/alice", _uid, _gid);
        var target = new UserFileTarget(users + "/alice", ".ssh/authorized_keys", _uid, _gid);

        var error = Assert.Throws<SafeFileException>(() => SafeFile.Update(target, AppendAttackerKey, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(SafeFileFailure.UnsafePermissions, error.Reason);
        Assert.Contains($"run 'chmod go-w {users}' and retry", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_a_group_writable_ssh_directory()
    {
        var target = _tree.MakeHomeWithKeys("alice", _uid, _gid);
        TestLibc.Chmod(target.Home + "/.ssh", 0b111_111_000);

        var error = Assert.Throws<SafeFileException>(() => SafeFile.Update(target, AppendAttackerKey, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(SafeFileFailure.UnsafePermissions, error.Reason);
    }

    [Fact]
    public void Refuses_authorized_keys_owned_by_another_user()
    {
        var (otherUid, otherGid) = TestTree.UnusedIds();
        var target = _tree.MakeHomeWithKeys("alice", _uid, _gid);
        TestLibc.LChown(target.Home + "/.ssh/authorized_keys", otherUid, otherGid);

        var error = Assert.Throws<SafeFileException>(() => SafeFile.Read(target));

        Assert.Equal(SafeFileFailure.UnsafeOwner, error.Reason);
    }

    [Fact]
    public void Refuses_a_fifo_without_blocking_on_it()
    {
        var target = _tree.MakeHomeWithKeys("alice", _uid, _gid, keys: null);
        TestLibc.MakeFifo(target.Home + "/.ssh/authorized_keys");

        var error = Assert.Throws<SafeFileException>(() => SafeFile.Update(target, AppendAttackerKey, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(SafeFileFailure.NotARegularFile, error.Reason);
        Assert.Contains("it is a FIFO, not a regular file", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("../alice2/.ssh/authorized_keys")]
    [InlineData(".ssh/../../x")]
    [InlineData("/etc/shadow")]
    [InlineData(".ssh//authorized_keys")]
    [InlineData("")]
    public void Refuses_a_relative_path_that_could_leave_the_home(string relative)
    {
        var target = _tree.MakeHomeWithKeys("alice", _uid, _gid) with { RelativePath = relative };

        var error = Assert.Throws<SafeFileException>(() => SafeFile.Update(target, AppendAttackerKey, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(SafeFileFailure.InvalidPath, error.Reason);
    }

    private static string ReadAllRegularFiles(string directory) => string.Concat(
        Directory.EnumerateFileSystemEntries(directory)
            .Where(p => TestLibc.LStat(p).IsRegularFile)
            .Select(File.ReadAllText));

    private static byte[] AppendAttackerKey(byte[]? current) => [.. current ?? [], .. "ssh-ed25519 AAAAattacker\n"u8];

    /// <summary>
    /// Updates in a loop while another thread atomically exchanges <paramref name="real"/> and the symlink
    /// <paramref name="swap"/> a bounded number of times, re-planting the link whenever an update replaced it.
    /// </summary>
    private static (int Written, int Refused) RaceUpdates(UserFileTarget target, string real, string swap, int swaps)
    {
        var stop = 0;
        Exception? racerFailure = null;
        var victim = new FileInfo(swap).LinkTarget!;
        var racer = new Thread(() =>
        {
            try
            {
                for (var i = 0; i < swaps && Volatile.Read(ref stop) == 0; i++)
                {
                    if (i % 2 == 0 && !TestLibc.LStat(swap).IsSymlink)
                    {
                        // an update renamed its file over the planted link (the safe outcome): plant it again
                        File.Delete(swap);
                        File.CreateSymbolicLink(swap, victim);
                    }

                    if (!TestLibc.Exchange(real, swap))
                    {
                        throw new IOException($"renameat2(RENAME_EXCHANGE) of {real} and {swap} failed");
                    }

                    // hold each state for a random 0–500 µs so swaps land in every phase of an update
                    var hold = Stopwatch.StartNew();
                    var until = TimeSpan.FromMicroseconds(Random.Shared.Next(500));
                    while (hold.Elapsed < until)
                    {
                        Thread.SpinWait(20);
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                racerFailure = e;
            }
            finally
            {
                Volatile.Write(ref stop, 1);
            }
        });
        var written = 0;
        var refused = 0;
        racer.Start();
        try
        {
            for (var line = 0; Volatile.Read(ref stop) == 0; line++)
            {
                try
                {
                    var mine = Encoding.ASCII.GetBytes($"ssh-ed25519 AAAAline{line}\n");
                    SafeFile.Update(target, current => [.. current ?? [], .. mine], new SafeFileOptions { CreateDirectory = false }, TestContext.Current.CancellationToken);
                    written++;
                }
                catch (SafeFileException e) when (e.Reason is SafeFileFailure.SymlinkRefused or SafeFileFailure.NotADirectory
                    or SafeFileFailure.NotARegularFile or SafeFileFailure.DirectoryMissing or SafeFileFailure.IoError)
                {
                    refused++;
                }
            }
        }
        finally
        {
            Volatile.Write(ref stop, 1);
            racer.Join();
        }

        Assert.Null(racerFailure);
        return (written, refused);
    }
}
