using Latch.Core.Interop;

namespace Latch.Agent.Guard.Install;

/// <summary>
/// sshd's rule for an AuthorizedKeysCommand (safe_path after realpath): an absolute path to a regular file owned by
/// root and not writable by group or others, and every directory above it up to / owned by root and not
/// group/other-writable. sshd silently ignores a command that fails it, so latchd checks first and says why.
/// </summary>
internal static class TrustedBinary
{
    /// <summary>Null when sshd would run <paramref name="path"/>; otherwise what is wrong and how to fix it.</summary>
    public static string? Problem(string path)
    {
        if (!path.StartsWith('/'))
        {
            return $"{path} is not an absolute path; sshd requires AuthorizedKeysCommand to be one";
        }

        if (Posix.RealPath(path, out var resolved) != 0)
        {
            return $"{path} does not exist; install latchd there first (or pass --binary with its absolute path)";
        }

        var current = resolved;
        var first = true;
        while (true)
        {
            FileStatus status;
            try
            {
                var info = new UnixFileInfo(current);
                status = info.Status;
            }
            catch (IOException e)
            {
                return $"cannot check {current}: {e.Message}";
            }

            if (first && !status.IsRegularFile)
            {
                return $"{current} is {status.Describe()}, not a regular file";
            }

            if (status.Uid != 0)
            {
                return $"{current} is owned by uid {status.Uid}; sshd runs an AuthorizedKeysCommand only when it and every directory above it are owned by root (fix: chown root {current})";
            }

            if (status.IsGroupOrWorldWritable)
            {
                return $"{current} is writable by group or others (mode 0{Convert.ToString(status.Permissions, 8)}); sshd refuses such an AuthorizedKeysCommand path (fix: chmod go-w {current})";
            }

            if (current == "/")
            {
                return null;
            }

            first = false;
            var slash = current.LastIndexOf('/');
            current = slash <= 0 ? "/" : current[..slash];
        }
    }

    private sealed class UnixFileInfo(string path)
    {
        public FileStatus Status
        {
            get
            {
                var errno = Posix.Open("/", LibcConstants.O_RDONLY | LibcConstants.O_DIRECTORY, out var root);
                using (root)
                {
                    if (errno != 0)
                    {
                        throw new IOException(Posix.Describe(errno));
                    }

                    errno = path == "/" ? Posix.Stat(root, out var status) : Posix.StatAt(root, path, out status);
                    return errno == 0 ? status : throw new IOException(Posix.Describe(errno));
                }
            }
        }
    }
}
