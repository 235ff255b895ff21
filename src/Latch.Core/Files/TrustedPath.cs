using Latch.Core.Interop;
using static Latch.Core.Interop.LibcConstants;

namespace Latch.Core.Files;

/// <summary>
/// Opens an absolute directory the way sshd's safe_path judges it: resolve it once with realpath (a parent
/// such as /home may legitimately be a symlink), then open every component from / down with O_NOFOLLOW,
/// requiring each directory above the last to be root-owned and not group/world-writable. The caller checks
/// the last directory, whose rule differs (a home belongs to its user).
/// </summary>
internal static class TrustedPath
{
    public static SafeFd OpenDirectory(
        string path, SafeFileContext context, SafeFileFailure whenMissing, string role, out string resolved, out FileStatus status)
    {
        var errno = Posix.RealPath(path, out resolved);
        if (errno == ENOENT)
        {
            throw context.Refuse(whenMissing, $"the {role} {path} does not exist", $"create {path} first, or correct the path, and retry");
        }

        if (errno == ENOTDIR)
        {
            throw context.Refuse(SafeFileFailure.NotADirectory, $"the {role} {path} is not a directory", "correct the path and retry");
        }

        if (errno != 0)
        {
            throw context.Failed(errno, "realpath", path);
        }

        errno = Posix.Open("/", O_RDONLY | O_DIRECTORY, out var current);
        if (errno != 0)
        {
            throw context.Failed(errno, "open", "/");
        }

        var walked = "";
        try
        {
            var components = resolved.Split('/', StringSplitOptions.RemoveEmptyEntries);
            status = StatOpened(current, "/", context);
            foreach (var name in components)
            {
                context.RequireRootOwnedDirectory(status, walked.Length == 0 ? "/" : walked);
                walked += "/" + name;
                var next = OpenChildDirectory(current, name, walked, context, whenMissing, role);
                current.Dispose();
                current = next;
                status = StatOpened(current, walked, context);
            }

            context.RequireDirectory(status, resolved);
            return current;
        }
        catch
        {
            current.Dispose();
            throw;
        }
    }

    /// <summary>Opens <paramref name="name"/> below <paramref name="parent"/>; null when it does not exist.</summary>
    public static SafeFd? TryOpenChildDirectory(SafeFd parent, string name, string display, SafeFileContext context)
    {
        var errno = Posix.OpenAt(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, out var fd);
        if (errno == 0)
        {
            return fd;
        }

        if (errno == ENOENT)
        {
            return null;
        }

        if (errno is ELOOP or ENOTDIR && Posix.StatAt(parent, name, out var status) == 0)
        {
            // throws: a symlink or something that is not a directory
            context.RequireDirectory(status, display);
        }

        throw context.Failed(errno, "openat", display);
    }

    public static FileStatus StatOpened(SafeFd fd, string display, SafeFileContext context)
    {
        var errno = Posix.Stat(fd, out var status);
        return errno == 0 ? status : throw context.Failed(errno, "fstat", display);
    }

    private static SafeFd OpenChildDirectory(SafeFd parent, string name, string display, SafeFileContext context, SafeFileFailure whenMissing, string role)
    {
        return TryOpenChildDirectory(parent, name, display, context)
            ?? throw context.Refuse(whenMissing, $"{display} disappeared while the {role} was being checked", "retry");
    }
}
