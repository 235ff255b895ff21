using System.Text;
using Latch.Core.Files;

namespace Latch.Core.Tests.Files;

/// <summary>WriteSystemFile: root-owned drop-ins (sudoers.d, sshd_config.d) and Latch state.</summary>
public sealed class SafeFileSystemFileTests : IDisposable
{
    private const int Mode0440 = 0b100_100_000;
    private static readonly byte[] s_dropIn = "latch ALL=(ALL) NOPASSWD: /usr/bin/true\n"u8.ToArray();
    private readonly TestTree _tree = new();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public void Dispose() => _tree.Dispose();

    [Fact]
    public void Writes_a_new_file_owned_by_root_with_the_given_mode()
    {
        var directory = _tree.MakeDirectory("sudoers.d", 0, 0, TestTree.Mode0755);

        SafeFile.WriteSystemFile(directory + "/latch", s_dropIn, Mode0440, Token);

        var status = TestLibc.LStat(directory + "/latch");
        Assert.Equal((true, 0u, 0u, (uint)Mode0440, 1u), (status.IsRegularFile, status.Uid, status.Gid, status.Permissions, status.LinkCount));
        Assert.Equal(s_dropIn, File.ReadAllBytes(directory + "/latch"));
        Assert.Equal(["latch"], Directory.EnumerateFileSystemEntries(directory).Select(Path.GetFileName));
    }

    [Fact]
    public void Replaces_an_existing_file_with_a_new_inode_and_fixes_its_owner_and_mode()
    {
        var directory = _tree.MakeDirectory("sshd_config.d", 0, 0, TestTree.Mode0755);
        var (uid, gid) = TestTree.UnusedIds();
        var path = _tree.MakeFile("sshd_config.d/50-latch.conf", "PasswordAuthentication yes\n", uid, gid, TestTree.Mode0600);
        var oldInode = TestLibc.LStat(path).Inode;

        SafeFile.WriteSystemFile(path, "PasswordAuthentication no\n"u8, TestTree.Mode0644, Token);

        var status = TestLibc.LStat(path);
        Assert.NotEqual(oldInode, status.Inode);
        Assert.Equal((0u, 0u, (uint)TestTree.Mode0644), (status.Uid, status.Gid, status.Permissions));
        Assert.Equal("PasswordAuthentication no\n", File.ReadAllText(path));
        Assert.Equal(["50-latch.conf"], Directory.EnumerateFileSystemEntries(directory).Select(Path.GetFileName));
    }

    [Fact]
    public void Refuses_a_symlink_as_the_final_component_and_leaves_its_target_alone()
    {
        var directory = _tree.MakeDirectory("sudoers.d", 0, 0, TestTree.Mode0755);
        var shadow = _tree.MakeFile("shadow", "root:$6$salt$hash:19000:0:99999:7:::\n", 0, 42, 0b110_100_000);
        File.CreateSymbolicLink(directory + "/latch", shadow);
        var before = TestTree.Snapshot(_tree.Root);

        var error = Assert.Throws<SafeFileException>(() => SafeFile.WriteSystemFile(directory + "/latch", s_dropIn, Mode0440, Token));

        Assert.Equal(SafeFileFailure.SymlinkRefused, error.Reason);
        Assert.Equal(
            $"refusing to write {directory}/latch: {directory}/latch is a symbolic link, and Latch never replaces or follows one; remove the link (or write to its target directly) and retry",
            error.Message);
        Assert.Equal(before, TestTree.Snapshot(_tree.Root));
    }

    [Fact]
    public void Refuses_a_parent_directory_not_owned_by_root()
    {
        var (uid, gid) = TestTree.UnusedIds();
        var directory = _tree.MakeDirectory("state", uid, gid, TestTree.Mode0755);

        var error = Assert.Throws<SafeFileException>(() => SafeFile.WriteSystemFile(directory + "/agent.json", "{}"u8, TestTree.Mode0600, Token));

        Assert.Equal(SafeFileFailure.UnsafeOwner, error.Reason);
        Assert.Contains($"{directory} is owned by uid {uid}, but every directory above it must be owned by root", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(directory));
    }

    [Fact]
    public void Refuses_a_group_writable_parent_directory()
    {
        var directory = _tree.MakeDirectory("sudoers.d", 0, 0, 0b111_111_101);

        var error = Assert.Throws<SafeFileException>(() => SafeFile.WriteSystemFile(directory + "/latch", s_dropIn, Mode0440, Token));

        Assert.Equal(SafeFileFailure.UnsafePermissions, error.Reason);
        Assert.Empty(Directory.EnumerateFileSystemEntries(directory));
    }

    [Fact]
    public void Refuses_a_directory_above_the_parent_that_is_not_root_owned()
    {
        var (uid, gid) = TestTree.UnusedIds();
        _tree.MakeDirectory("etc", uid, gid, TestTree.Mode0755);
        var directory = _tree.MakeDirectory("etc/sudoers.d", 0, 0, TestTree.Mode0755);

        var error = Assert.Throws<SafeFileException>(() => SafeFile.WriteSystemFile(directory + "/latch", s_dropIn, Mode0440, Token));

        Assert.Equal(SafeFileFailure.UnsafeOwner, error.Reason);
        Assert.Empty(Directory.EnumerateFileSystemEntries(directory));
    }

    [Fact]
    public void Follows_a_symlinked_parent_directory_that_resolves_to_a_safe_one()
    {
        var real = _tree.MakeDirectory("real-state", 0, 0, TestTree.Mode0755);
        File.CreateSymbolicLink(_tree.Root + "/state", real);

        SafeFile.WriteSystemFile(_tree.Root + "/state/agent.json", "{}"u8, TestTree.Mode0600, Token);

        Assert.Equal("{}", File.ReadAllText(real + "/agent.json"));
    }

    [Fact]
    public void Refuses_a_directory_in_place_of_the_file_and_a_missing_parent()
    {
        var directory = _tree.MakeDirectory("sudoers.d", 0, 0, TestTree.Mode0755);
        _tree.MakeDirectory("sudoers.d/latch", 0, 0, TestTree.Mode0755);

        var notFile = Assert.Throws<SafeFileException>(() => SafeFile.WriteSystemFile(directory + "/latch", s_dropIn, Mode0440, Token));
        var missing = Assert.Throws<SafeFileException>(() => SafeFile.WriteSystemFile(_tree.Root + "/nope/latch", s_dropIn, Mode0440, Token));
        var relative = Assert.Throws<SafeFileException>(() => SafeFile.WriteSystemFile("etc/sudoers.d/latch", s_dropIn, Mode0440, Token));
        var worldWritable = Assert.Throws<ArgumentOutOfRangeException>(() => SafeFile.WriteSystemFile(directory + "/x", s_dropIn, 0b110_110_110, Token));

        Assert.Equal(SafeFileFailure.NotARegularFile, notFile.Reason);
        Assert.Equal(SafeFileFailure.DirectoryMissing, missing.Reason);
        Assert.Equal(SafeFileFailure.InvalidPath, relative.Reason);
        Assert.Equal("mode", worldWritable.ParamName);
        Assert.Equal(["latch"], Directory.EnumerateFileSystemEntries(directory).Select(Path.GetFileName));
    }

    [Fact]
    public void Concurrent_writers_of_one_file_each_leave_a_whole_file()
    {
        var directory = _tree.MakeDirectory("state", 0, 0, TestTree.Mode0755);
        var contents = Enumerable.Range(0, 4).Select(i => Encoding.ASCII.GetBytes(new string((char)('a' + i), 100_000 + i))).ToArray();

        Parallel.For(0, 40, new ParallelOptions { CancellationToken = Token },
            i => SafeFile.WriteSystemFile(directory + "/state.json", contents[i % 4], TestTree.Mode0600, Token));

        var final = File.ReadAllBytes(directory + "/state.json");
        Assert.Contains(contents, c => c.AsSpan().SequenceEqual(final));
        Assert.Equal(["state.json"], Directory.EnumerateFileSystemEntries(directory).Select(Path.GetFileName));
    }
}
