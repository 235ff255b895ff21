using System.Diagnostics;
using System.Text;
using Latch.Core.Files;
using Latch.Testing;

namespace Latch.Core.Tests.Files;

/// <summary>What an ordinary update does: creating .ssh, modes and owners, no-op updates, locks, leftovers.</summary>
public sealed class SafeFileUpdateTests : IDisposable
{
    private static readonly byte[] s_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTests alice@laptop\n"u8.ToArray();
    private readonly TestTree _tree = new();
    private readonly uint _uid;
    private readonly uint _gid;

    public SafeFileUpdateTests() => (_uid, _gid) = TestTree.UnusedIds();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public void Dispose() => _tree.Dispose();

    [Fact]
    public void Creates_a_missing_ssh_directory_owned_by_a_real_user_with_mode_0700()
    {
        var home = _tree.Root + "/alice";
        using var user = new TestUser(home);
        _tree.MakeDirectory("alice", user.Uid, user.Gid, 0b111_101_101);
        var target = new UserFileTarget(home, ".ssh/authorized_keys", user.Uid, user.Gid);

        var result = SafeFile.Update(target, current => current is null ? s_key : null, cancellationToken: Token);

        Assert.Equal(new SafeUpdateResult(Changed: true, Created: true, BytesWritten: s_key.Length), result);
        var directory = TestLibc.LStat(home + "/.ssh");
        Assert.True(directory.IsDirectory);
        Assert.Equal((user.Uid, user.Gid, (uint)TestTree.Mode0700), (directory.Uid, directory.Gid, directory.Permissions));
        var file = TestLibc.LStat(home + "/.ssh/authorized_keys");
        Assert.Equal((user.Uid, user.Gid, (uint)TestTree.Mode0600, 1u), (file.Uid, file.Gid, file.Permissions, file.LinkCount));
        Assert.Equal(s_key, File.ReadAllBytes(home + "/.ssh/authorized_keys"));
        Assert.Equal(s_key, SafeFile.Read(target));
        Assert.Equal([".ssh/authorized_keys"], Directory.EnumerateFileSystemEntries(home, "*", SearchOption.AllDirectories)
            .Where(File.Exists).Select(p => Path.GetRelativePath(home, p)));
    }

    [Fact]
    public void A_file_renamed_over_the_target_while_the_update_is_written_is_read_again_and_kept()
    {
        var target = _tree.MakeHomeWithKeys("alice", _uid, _gid);
        var path = target.Home + "/.ssh/authorized_keys";
        var seen = new List<string?>();

        var result = SafeFile.Update(target, current =>
        {
            seen.Add(current is null ? null : Encoding.ASCII.GetString(current));
            if (seen.Count == 1)
            {
                // another writer, which does not take the lock, renames its own file over the target meanwhile
                File.WriteAllText(path + ".other", "ssh-ed25519 AAAAother bob\n");
                File.Move(path + ".other", path, overwrite: true);
            }

            return [.. current!, .. s_key];
        }, cancellationToken: Token);

        Assert.True(result.Changed);
        Assert.Equal(["ssh-ed25519 AAAAold alice\n", "ssh-ed25519 AAAAother bob\n"], seen);
        Assert.Equal("ssh-ed25519 AAAAother bob\n" + Encoding.ASCII.GetString(s_key), File.ReadAllText(path));
        Assert.Equal(["authorized_keys"], Directory.EnumerateFileSystemEntries(target.Home + "/.ssh").Select(Path.GetFileName));
    }

    [Fact]
    public void A_writer_that_keeps_renaming_over_the_target_cannot_keep_the_update_out()
    {
        var target = _tree.MakeHomeWithKeys("alice", _uid, _gid);
        var path = target.Home + "/.ssh/authorized_keys";
        var calls = 0;

        var result = SafeFile.Update(target, current =>
        {
            calls++;
            File.WriteAllText(path + ".other", $"ssh-ed25519 AAAAother{calls} bob\n");
            File.Move(path + ".other", path, overwrite: true);
            return [.. current!, .. s_key];
        }, cancellationToken: Token);

        Assert.True(result.Changed);
        Assert.Equal(4, calls);
        Assert.EndsWith(Encoding.ASCII.GetString(s_key), File.ReadAllText(path), StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_to_create_the_directory_when_told_not_to()
    {
        var home = _tree.MakeDirectory("alice", _uid, _gid, TestTree.Mode0700);
        var target = new UserFileTarget(home, ".ssh/authorized_keys", _uid, _gid);

        var error = Assert.Throws<SafeFileException>(() =>
            SafeFile.Update(target, _ => s_key, new SafeFileOptions { CreateDirectory = false }, Token));

        Assert.Equal(SafeFileFailure.DirectoryMissing, error.Reason);
        Assert.Contains($"{home}/.ssh does not exist and SafeFileOptions.CreateDirectory is off", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(home));
    }

    [Fact]
    public void Reads_null_when_the_directory_or_the_file_is_missing()
    {
        var home = _tree.MakeDirectory("alice", _uid, _gid, TestTree.Mode0700);
        var target = new UserFileTarget(home, ".ssh/authorized_keys", _uid, _gid);

        Assert.Null(SafeFile.Read(target));
        _tree.MakeDirectory("alice/.ssh", _uid, _gid, TestTree.Mode0700);
        Assert.Null(SafeFile.Read(target));
        Assert.Empty(Directory.EnumerateFileSystemEntries(home + "/.ssh"));
    }

    [Fact]
    public void Refuses_a_missing_home_with_a_clear_message()
    {
        var target = new UserFileTarget(_tree.Root + "/nobody-here", ".ssh/authorized_keys", _uid, _gid);

        var error = Assert.Throws<SafeFileException>(() => SafeFile.Update(target, _ => s_key, cancellationToken: Token));

        Assert.Equal(SafeFileFailure.HomeMissing, error.Reason);
        Assert.Equal(
            $"refusing to write {target.Home}/.ssh/authorized_keys: the home directory {target.Home} does not exist; create {target.Home} first, or correct the path, and retry",
            error.Message);
    }

    [Fact]
    public void Writes_nothing_when_the_transform_returns_null_or_the_same_bytes()
    {
        var target = _tree.MakeHomeWithKeys("alice", _uid, _gid);
        var before = TestTree.Snapshot(target.Home);

        var none = SafeFile.Update(target, _ => null, cancellationToken: Token);
        var same = SafeFile.Update(target, current => [.. current!], cancellationToken: Token);

        Assert.Equal(new SafeUpdateResult(false, false, 0), none);
        Assert.Equal(new SafeUpdateResult(false, false, 0), same);
        Assert.Equal(before, TestTree.Snapshot(target.Home));
    }

    [Fact]
    public void Rewrites_a_loose_root_owned_file_as_0600_owned_by_the_user()
    {
        // decided: a rewrite always yields SafeFileOptions.FileMode (0600) and the user as owner,
        // so a 0644 root-owned file another agent left behind is tightened and handed to its user
        var target = _tree.MakeHomeWithKeys("alice", _uid, _gid);
        var keys = target.Home + "/.ssh/authorized_keys";
        TestLibc.LChown(keys, 0, 0);
        TestLibc.Chmod(keys, TestTree.Mode0644);
        var oldInode = TestLibc.LStat(keys).Inode;

        var result = SafeFile.Update(target, current => [.. current!, .. s_key], cancellationToken: Token);

        var after = TestLibc.LStat(keys);
        Assert.True(result.Changed);
        Assert.False(result.Created);
        Assert.Equal((_uid, _gid, (uint)TestTree.Mode0600), (after.Uid, after.Gid, after.Permissions));
        Assert.NotEqual(oldInode, after.Inode);
        Assert.Equal("ssh-ed25519 AAAAold alice\n" + Encoding.ASCII.GetString(s_key), File.ReadAllText(keys));
    }

    [Fact]
    public void Follows_a_symlinked_parent_of_the_home_such_as_a_linked_home_root()
    {
        _tree.MakeDirectory("var-home", 0, 0, TestTree.Mode0755);
        _tree.MakeHomeWithKeys("var-home/alice", _uid, _gid);
        File.CreateSymbolicLink(_tree.Root + "/home", _tree.Root + "/var-home");
        var target = new UserFileTarget(_tree.Root + "/home/alice", ".ssh/authorized_keys", _uid, _gid);

        SafeFile.Update(target, current => [.. current!, .. s_key], cancellationToken: Token);

        Assert.EndsWith(Encoding.ASCII.GetString(s_key), File.ReadAllText(_tree.Root + "/var-home/alice/.ssh/authorized_keys"), StringComparison.Ordinal);
    }

    [Fact]
    public void Leaves_the_file_alone_and_no_temp_file_when_the_transform_throws()
    {
        var target = _tree.MakeHomeWithKeys("alice", _uid, _gid);
        var before = TestTree.Snapshot(target.Home);

        Assert.Throws<FormatException>(() => SafeFile.Update(target, _ => throw new FormatException("bad key line"), cancellationToken: Token));

        Assert.Equal(before, TestTree.Snapshot(target.Home));
    }

    [Fact]
    public void Removes_temp_files_a_killed_writer_left_behind_but_nothing_else()
    {
        var target = _tree.MakeHomeWithKeys("alice", _uid, _gid);
        var stale = _tree.MakeFile("alice/.ssh/.authorized_keys.latch-0123456789abcdef", "partial", 0, 0, TestTree.Mode0600);
        var lookalike = _tree.MakeFile("alice/.ssh/.authorized_keys.latch-mine", "the user's own", _uid, _gid, TestTree.Mode0600);

        SafeFile.Update(target, current => [.. current!, .. s_key], cancellationToken: Token);

        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(lookalike));
        Assert.Equal(
            [".authorized_keys.latch-mine", "authorized_keys"],
            Directory.EnumerateFileSystemEntries(target.Home + "/.ssh").Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Times_out_while_a_shell_script_holds_flock_on_the_ssh_directory_then_succeeds()
    {
        var flock = Requires.Tool("flock", "util-linux");
        var target = _tree.MakeHomeWithKeys("alice", _uid, _gid);
        var before = TestTree.Snapshot(target.Home);
        using var holder = Process.Start(new ProcessStartInfo(flock)
        {
            ArgumentList = { target.Home + "/.ssh", "-c", "echo locked; read line" },
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
        })!;
        try
        {
            Assert.Equal("locked", holder.StandardOutput.ReadLine());

            var error = Assert.Throws<SafeFileException>(() => SafeFile.Update(
                target, current => [.. current!, .. s_key], new SafeFileOptions { LockTimeout = TimeSpan.FromMilliseconds(300) }, Token));
            using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            Assert.Throws<OperationCanceledException>(() => SafeFile.Update(
                target, current => [.. current!, .. s_key], new SafeFileOptions { LockTimeout = Timeout.InfiniteTimeSpan }, cancel.Token));

            Assert.Equal(SafeFileFailure.LockTimeout, error.Reason);
            Assert.Contains($"another writer has held the lock on {target.Home}/.ssh for more than 0.3 s", error.Message, StringComparison.Ordinal);
            Assert.Equal(before, TestTree.Snapshot(target.Home));
        }
        finally
        {
            holder.StandardInput.WriteLine();
            holder.WaitForExit();
        }

        Assert.True(SafeFile.Update(target, current => [.. current!, .. s_key], cancellationToken: Token).Changed);
        Assert.Equal(["authorized_keys"], Directory.EnumerateFileSystemEntries(target.Home + "/.ssh").Select(Path.GetFileName));
    }

    [Fact]
    public void Refuses_a_current_file_larger_than_the_limit_and_keeps_it()
    {
        var target = _tree.MakeHomeWithKeys("alice", _uid, _gid, keys: new string('x', 200));
        var before = TestTree.Snapshot(target.Home);

        var error = Assert.Throws<SafeFileException>(() =>
            SafeFile.Update(target, _ => s_key, new SafeFileOptions { MaxFileSize = 100 }, Token));

        Assert.Equal(SafeFileFailure.TooLarge, error.Reason);
        Assert.Equal(before, TestTree.Snapshot(target.Home));
        Assert.True(SafeFile.Update(target, _ => s_key, new SafeFileOptions { MaxFileSize = 200 }, Token).Changed);
    }

    [Fact]
    public void Refuses_a_mode_sshd_would_reject()
    {
        var target = _tree.MakeHomeWithKeys("alice", _uid, _gid);

        Assert.Throws<ArgumentOutOfRangeException>(() =>
            SafeFile.Update(target, _ => s_key, new SafeFileOptions { FileMode = 0b110_110_100 }, Token));
    }
}
