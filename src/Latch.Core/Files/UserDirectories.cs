using Latch.Core.Interop;
using static Latch.Core.Interop.LibcConstants;

namespace Latch.Core.Files;

/// <summary>
/// Walks from a user's home to the directory that holds the target file, one O_NOFOLLOW open at a time,
/// checking (and when asked, creating) each directory; then opens and checks the target file itself.
/// </summary>
internal static class UserDirectories
{
    /// <summary>
    /// Opens the directory that holds the target. Returns null when a directory is missing and
    /// <paramref name="createMode"/> is null (then <paramref name="directoryPath"/> names the missing one);
    /// otherwise creates it owned by the user.
    /// </summary>
    public static SafeFd? OpenParent(TargetPath target, SafeFileContext context, int? createMode, out string directoryPath)
    {
        var current = TrustedPath.OpenDirectory(
            target.Home, context, SafeFileFailure.HomeMissing, "home directory", out directoryPath, out var status);
        try
        {
            context.RequireUserOwnedDirectory(status, directoryPath, target.Uid);
            foreach (var name in target.Directories)
            {
                var path = directoryPath + "/" + name;
                var next = TrustedPath.TryOpenChildDirectory(current, name, path, context);
                if (next is null)
                {
                    if (createMode is not int mode)
                    {
                        current.Dispose();
                        directoryPath = path;
                        return null;
                    }

                    next = Create(current, name, path, target, mode, context);
                }

                current.Dispose();
                current = next;
                directoryPath = path;
                context.RequireUserOwnedDirectory(TrustedPath.StatOpened(current, path, context), path, target.Uid);
            }

            return current;
        }
        catch
        {
            current.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads the target through a descriptor that was checked after opening; null when it does not exist.
    /// Refuses a symlink, anything but a regular file, more than one hard link, and an owner other than
    /// the user or root.
    /// </summary>
    public static byte[]? ReadTarget(SafeFd directory, string name, string path, uint uid, int maxBytes, SafeFileContext context) =>
        ReadTarget(directory, name, path, uid, maxBytes, context, out _);

    /// <summary>The same, with the inode that was read (0 when the file does not exist).</summary>
    public static byte[]? ReadTarget(SafeFd directory, string name, string path, uint uid, int maxBytes, SafeFileContext context, out ulong inode)
    {
        inode = 0;
        // lstat first so that a FIFO or device is never opened at all
        var errno = Posix.StatAt(directory, name, out var status);
        if (errno == ENOENT)
        {
            return null;
        }

        if (errno != 0)
        {
            throw context.Failed(errno, "statx", path);
        }

        RequireSafeTarget(status, path, uid, maxBytes, context);
        errno = Posix.OpenAt(directory, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0, out var fd);
        using (fd)
        {
            if (errno == ENOENT)
            {
                return null;
            }

            if (errno == ELOOP)
            {
                throw context.Refuse(SafeFileFailure.SymlinkRefused,
                    "it became a symbolic link while it was being checked, and Latch follows no symlink there",
                    "replace the link with a regular file (or remove it) and retry");
            }

            if (errno != 0)
            {
                throw context.Failed(errno, "openat", path);
            }

            // the descriptor is what gets read, so its own status is the one that counts
            status = TrustedPath.StatOpened(fd, path, context);
            RequireSafeTarget(status, path, uid, maxBytes, context);
            inode = status.Inode;
            errno = Posix.ReadAll(fd, (int)status.Size, maxBytes, out var content);
            if (errno == 27)
            {
                throw TooLarge(context, maxBytes);
            }

            return errno == 0 ? content : throw context.Failed(errno, "read", path);
        }
    }

    private static void RequireSafeTarget(FileStatus status, string path, uint uid, int maxBytes, SafeFileContext context)
    {
        if (status.IsSymlink)
        {
            throw context.Refuse(SafeFileFailure.SymlinkRefused,
                "it is a symbolic link, and Latch follows no symlink inside a home",
                "replace the link with a regular file (or remove it) and retry");
        }

        if (!status.IsRegularFile)
        {
            throw context.Refuse(SafeFileFailure.NotARegularFile,
                $"it is {status.Describe()}, not a regular file",
                "move it away and retry");
        }

        if (status.LinkCount > 1)
        {
            throw context.Refuse(SafeFileFailure.MultipleHardLinks,
                $"it has {status.LinkCount} hard links, so it may be another file in disguise",
                "remove the extra link and retry");
        }

        if (status.Uid != uid && status.Uid != 0)
        {
            throw context.Refuse(SafeFileFailure.UnsafeOwner,
                $"it is owned by uid {status.Uid}, not by the user (uid {uid}) or root",
                $"check who put it there, then remove it or 'chown {uid} {path}', and retry");
        }

        if (status.Size > (ulong)maxBytes)
        {
            throw TooLarge(context, maxBytes);
        }
    }

    private static SafeFileException TooLarge(SafeFileContext context, int maxBytes) =>
        context.Refuse(SafeFileFailure.TooLarge,
            $"it is larger than {maxBytes} bytes",
            "trim it (or raise SafeFileOptions.MaxFileSize) and retry");

    private static SafeFd Create(SafeFd parent, string name, string path, TargetPath target, int mode, SafeFileContext context)
    {
        var errno = Posix.MkdirAt(parent, name, (uint)mode);
        var madeIt = errno == 0;
        if (errno is not (0 or EEXIST))
        {
            throw context.Failed(errno, "mkdirat", path);
        }

        var fd = TrustedPath.TryOpenChildDirectory(parent, name, path, context)
            ?? throw context.Refuse(SafeFileFailure.DirectoryMissing, $"{path} disappeared right after it was created", "retry");
        try
        {
            var status = TrustedPath.StatOpened(fd, path, context);
            if (madeIt && status.Uid == 0 && status.Uid != target.Uid)
            {
                // Only an empty root-owned directory is handed over: if someone swapped another root-owned
                // directory in between mkdirat and openat, giving it to the user would be a gift.
                errno = Posix.ListDirectory(fd, out var entries);
                if (errno != 0)
                {
                    throw context.Failed(errno, "readdir", path);
                }

                if (entries.Count != 0)
                {
                    throw context.Refuse(SafeFileFailure.UnsafeOwner,
                        $"{path} was replaced by another root-owned directory while it was being created",
                        "check who did it, remove it, and retry");
                }
            }

            if (madeIt && (status.Uid == 0 || status.Uid == target.Uid))
            {
                FixOwnerAndMode(fd, path, target, mode, context);
            }

            // the new entry in the parent must survive a crash as well as the file inside it
            errno = Posix.FSync(parent);
            return errno == 0 ? fd : throw context.Failed(errno, "fsync", path + "/..");
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    private static void FixOwnerAndMode(SafeFd fd, string path, TargetPath target, int mode, SafeFileContext context)
    {
        var errno = Posix.FChown(fd, target.Uid, target.Gid);
        if (errno != 0)
        {
            throw context.Failed(errno, "fchown", path);
        }

        errno = Posix.FChmod(fd, (uint)mode);
        if (errno != 0)
        {
            throw context.Failed(errno, "fchmod", path);
        }
    }
}
