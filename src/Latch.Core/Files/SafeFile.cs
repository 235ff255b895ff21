using Latch.Core.Interop;
using static Latch.Core.Interop.LibcConstants;

namespace Latch.Core.Files;

/// <summary>
/// The one way Latch reads and writes a file in a user's home (as root) or a root-owned config file.
/// Every path is walked with O_NOFOLLOW from a checked directory descriptor, ownership and modes are
/// checked the way sshd's StrictModes checks them, and writes are atomic (temp + fsync + rename + fsync).
/// </summary>
public static class SafeFile
{
    /// <summary>
    /// Reads a file in a user's home after the same checks <see cref="Update"/> makes. Returns null when
    /// the file or a directory on the way is missing.
    /// </summary>
    /// <exception cref="SafeFileException">A check failed or a system call failed.</exception>
    public static byte[]? Read(UserFileTarget target)
    {
        var path = TargetPath.Parse(target, "read");
        var context = new SafeFileContext("read", path.Display);
        using var directory = UserDirectories.OpenParent(path, context, createMode: null, out var directoryPath);
        return directory is null
            ? null
            : UserDirectories.ReadTarget(directory, path.FileName, directoryPath + "/" + path.FileName, path.Uid,
                SafeFileOptions.Default.MaxFileSize, context);
    }

    /// <summary>
    /// Read-modify-write of a file in a user's home under the directory lock. <paramref name="transform"/>
    /// gets the current content (null when the file is missing) and returns the new content, or null to
    /// leave the file alone. Returning the same bytes also writes nothing. When another writer replaces the file
    /// while the new content is being written, the file is read and <paramref name="transform"/> called again. A written file always gets
    /// <see cref="SafeFileOptions.FileMode"/> and the user as owner. The transform runs under the lock,
    /// so it should be quick and must not call SafeFile for the same directory.
    /// </summary>
    /// <exception cref="SafeFileException">A check failed, the lock timed out, or a system call failed;
    /// the file is unchanged unless the message says otherwise.</exception>
    /// <exception cref="OperationCanceledException">Cancelled before the new content was renamed into place.</exception>
    public static SafeUpdateResult Update(
        UserFileTarget target, Func<byte[]?, byte[]?> transform, SafeFileOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transform);
        options ??= SafeFileOptions.Default;
        options.Validate();
        cancellationToken.ThrowIfCancellationRequested();
        var path = TargetPath.Parse(target, "write");
        var context = new SafeFileContext("write", path.Display);
        using var directory = UserDirectories.OpenParent(
            path, context, options.CreateDirectory ? options.DirectoryMode : null, out var directoryPath)
            ?? throw context.Refuse(SafeFileFailure.DirectoryMissing,
                $"{directoryPath} does not exist and SafeFileOptions.CreateDirectory is off",
                $"create it (owned by uid {path.Uid}, mode 0700) or let SafeFile create it, and retry");

        DirectoryLock.Acquire(directory, directoryPath, options, context, cancellationToken);
        var filePath = directoryPath + "/" + path.FileName;
        for (var attempt = 1; ; attempt++)
        {
            var current = UserDirectories.ReadTarget(directory, path.FileName, filePath, path.Uid, options.MaxFileSize, context, out var inode);
            var next = transform(current);
            if (next is null || (current is not null && current.AsSpan().SequenceEqual(next)))
            {
                return new SafeUpdateResult(Changed: false, Created: false, BytesWritten: 0);
            }

            // a writer that ignores the lock may rename its own file over the target while the new content is written
            // and synced: the rename would then drop that file, so the read and transform start again (a few times;
            // the last attempt renames regardless, so a writer that never stops cannot keep the update out)
            bool StillCurrent() => Posix.StatAt(directory, path.FileName, out var now) is var errno
                && (errno == 0 ? now.Inode == inode : errno == ENOENT && inode == 0);
            if (AtomicReplace.Write(directory, directoryPath, path.FileName, next, path.Uid, path.Gid, options.FileMode, context,
                attempt < MaxAttempts ? StillCurrent : null, cancellationToken))
            {
                return new SafeUpdateResult(Changed: true, Created: current is null, BytesWritten: next.Length);
            }
        }
    }

    /// <summary>How often <see cref="Update"/> reads again when the target was replaced under it.</summary>
    private const int MaxAttempts = 4;

    /// <summary>
    /// Atomically writes a whole root-owned system file (a sudoers.d or sshd_config.d drop-in, Latch state)
    /// with owner root:root and <paramref name="mode"/>. Refuses a symlink or non-regular file at
    /// <paramref name="path"/>, and a parent directory (or any directory above it) that is not root-owned or is
    /// group/world-writable. Concurrent writers in one directory are serialized by the same directory lock.
    /// </summary>
    /// <exception cref="SafeFileException">A check failed or a system call failed; the file is unchanged.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="mode"/> has group/other write or non-permission bits.</exception>
    public static void WriteSystemFile(string path, ReadOnlySpan<byte> content, int mode, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (mode is < 0 or > 0b111_111_111 || (mode & 0b000_010_010) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(mode), $"0{Convert.ToString(mode, 8)}",
                "a system file's mode must be permission bits only (at most 0777) without group or other write, such as 0440 or 0644.");
        }

        var context = new SafeFileContext("write", path);

        var name = path[(path.LastIndexOf('/') + 1)..];
        var parent = path[..Math.Max(path.LastIndexOf('/'), 0)];
        if (!path.StartsWith('/') || path.Contains('\0', StringComparison.Ordinal) || name is "" or "." or "..")
        {
            throw context.Refuse(SafeFileFailure.InvalidPath, "it is not an absolute path to a file", "pass a path such as /etc/sudoers.d/latch");
        }

        cancellationToken.ThrowIfCancellationRequested();
        using var directory = TrustedPath.OpenDirectory(
            parent.Length == 0 ? "/" : parent, context, SafeFileFailure.DirectoryMissing, "directory", out var directoryPath, out var status);
        context.RequireRootOwnedDirectory(status, directoryPath);
        DirectoryLock.Acquire(directory, directoryPath, SafeFileOptions.Default, context, cancellationToken);

        var filePath = directoryPath.TrimEnd('/') + "/" + name;
        var errno = Posix.StatAt(directory, name, out var existing);
        if (errno == 0 && existing.IsSymlink)
        {
            throw context.Refuse(SafeFileFailure.SymlinkRefused,
                $"{filePath} is a symbolic link, and Latch never replaces or follows one",
                "remove the link (or write to its target directly) and retry");
        }

        if (errno == 0 && !existing.IsRegularFile)
        {
            throw context.Refuse(SafeFileFailure.NotARegularFile, $"{filePath} is {existing.Describe()}, not a regular file", "move it away and retry");
        }

        if (errno is not (0 or ENOENT))
        {
            throw context.Failed(errno, "statx", filePath);
        }

        AtomicReplace.Write(directory, directoryPath, name, content, 0, 0, mode, context, cancellationToken);
    }
}
