using System.Runtime.InteropServices;
using System.Text;
using static Latch.Core.Interop.LibcConstants;

namespace Latch.Core.Interop;

/// <summary>
/// Thin, errno-returning wrappers over <see cref="Libc"/>: 0 means success, anything else is the errno.
/// EINTR is retried here so callers never see it. Callers turn errnos into messages with paths in them.
/// </summary>
internal static unsafe class Posix
{
    private const int PathMax = 4096;

    public static string Describe(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";

    public static int Open(string path, int flags, out SafeFd fd)
    {
        int result;
        do
        {
            result = Libc.Open(path, flags | O_CLOEXEC, 0);
        }
        while (result < 0 && Marshal.GetLastPInvokeError() == EINTR);

        return Wrap(result, out fd);
    }

    public static int OpenAt(SafeFd dir, string name, int flags, uint mode, out SafeFd fd)
    {
        int result;
        do
        {
            result = Libc.OpenAt(dir, name, flags | O_CLOEXEC, mode);
        }
        while (result < 0 && Marshal.GetLastPInvokeError() == EINTR);

        return Wrap(result, out fd);
    }

    /// <summary>fstat through statx(fd, "", AT_EMPTY_PATH).</summary>
    public static int Stat(SafeFd fd, out FileStatus status) => StatAt(fd, "", AT_EMPTY_PATH, out status);

    /// <summary>lstat relative to a directory: never follows a symlink in <paramref name="name"/>.</summary>
    public static int StatAt(SafeFd dir, string name, out FileStatus status) =>
        StatAt(dir, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, out status);

    public static int MkdirAt(SafeFd dir, string name, uint mode) => Check(Libc.MkdirAt(dir, name, mode));

    public static int RenameAt(SafeFd dir, string from, string to) => Check(Libc.RenameAt(dir, from, dir, to));

    public static int UnlinkAt(SafeFd dir, string name) => Check(Libc.UnlinkAt(dir, name, 0));

    public static int FChown(SafeFd fd, uint uid, uint gid) => Check(Libc.FChown(fd, uid, gid));

    public static int FChmod(SafeFd fd, uint mode) => Check(Libc.FChmod(fd, mode));

    public static int FSync(SafeFd fd)
    {
        int result;
        do
        {
            result = Libc.FSync(fd);
        }
        while (result < 0 && Marshal.GetLastPInvokeError() == EINTR);

        return Check(result);
    }

    /// <summary>One non-blocking attempt at an exclusive flock; EWOULDBLOCK is reported as not acquired.</summary>
    public static int TryLockExclusive(SafeFd fd, out bool acquired)
    {
        acquired = false;
        while (true)
        {
            if (Libc.Flock(fd, LOCK_EX | LOCK_NB) == 0)
            {
                acquired = true;
                return 0;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == EINTR)
            {
                continue;
            }

            return errno == EAGAIN ? 0 : errno;
        }
    }

    /// <summary>Moves the descriptor's offset back to the start of the file; 0 or errno.</summary>
    public static int Rewind(SafeFd fd) => Libc.LSeek(fd, 0, SEEK_SET) < 0 ? Marshal.GetLastPInvokeError() : 0;

    /// <summary>Reads to end of file. Returns EFBIG (27) once more than <paramref name="maxBytes"/> arrive.</summary>
    public static int ReadAll(SafeFd fd, int sizeHint, int maxBytes, out byte[] content)
    {
        content = [];
        var buffer = new byte[Math.Min(Math.Max(sizeHint + 1, 4096), maxBytes + 1)];
        var length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                if (length > maxBytes)
                {
                    return 27;
                }

                Array.Resize(ref buffer, (int)Math.Min((long)buffer.Length * 2, maxBytes + 1L));
            }

            nint got;
            fixed (byte* p = &buffer[length])
            {
                got = Libc.Read(fd, p, (nuint)(buffer.Length - length));
            }

            if (got < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR)
                {
                    continue;
                }

                return errno;
            }

            if (got == 0)
            {
                break;
            }

            length += (int)got;
        }

        if (length > maxBytes)
        {
            return 27;
        }

        content = buffer.AsSpan(0, length).ToArray();
        return 0;
    }

    public static int WriteAll(SafeFd fd, ReadOnlySpan<byte> content)
    {
        fixed (byte* start = content)
        {
            var written = 0;
            while (written < content.Length)
            {
                var result = Libc.Write(fd, start + written, (nuint)(content.Length - written));
                if (result < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == EINTR)
                    {
                        continue;
                    }

                    return errno;
                }

                written += (int)result;
            }
        }

        return 0;
    }

    public static int RealPath(string path, out string resolved)
    {
        resolved = "";
        var buffer = stackalloc byte[PathMax];
        if (Libc.RealPath(path, buffer) == null)
        {
            return Marshal.GetLastPInvokeError();
        }

        resolved = Encoding.UTF8.GetString(MemoryMarshal.CreateReadOnlySpanFromNullTerminated(buffer));
        return 0;
    }

    /// <summary>The names in a directory (without . and ..), read through a fresh descriptor of it.</summary>
    public static int ListDirectory(SafeFd dir, out List<string> names)
    {
        names = [];
        var errno = OpenAt(dir, ".", O_RDONLY | O_DIRECTORY, 0, out var copy);
        if (errno != 0)
        {
            return errno;
        }

        // fdopendir takes the descriptor over; closedir closes it
        var number = copy.Number;
        copy.SetHandleAsInvalid();
        var stream = Libc.FdOpenDir(number);
        if (stream == 0)
        {
            errno = Marshal.GetLastPInvokeError();
            Libc.Close(number);
            return errno;
        }

        try
        {
            while (true)
            {
                Marshal.SetLastPInvokeError(0);
                var entry = Libc.ReadDir64(stream);
                if (entry == null)
                {
                    return Marshal.GetLastPInvokeError();
                }

                var name = Encoding.UTF8.GetString(MemoryMarshal.CreateReadOnlySpanFromNullTerminated(entry + 19));
                if (name is not ("." or ".."))
                {
                    names.Add(name);
                }
            }
        }
        finally
        {
            Libc.CloseDir(stream);
        }
    }

    private static int StatAt(SafeFd dir, string name, int flags, out FileStatus status)
    {
        StatxBuffer buffer;
        if (Libc.Statx(dir, name, flags, STATX_BASIC_STATS, &buffer) != 0)
        {
            status = default;
            return Marshal.GetLastPInvokeError();
        }

        status = new FileStatus(
            buffer.Mode,
            buffer.Uid,
            buffer.Gid,
            buffer.NLink,
            buffer.Ino,
            ((ulong)buffer.DevMajor << 32) | buffer.DevMinor,
            buffer.Size,
            buffer.MTimeSeconds,
            buffer.MTimeNanoseconds);
        return 0;
    }

    private static int Check(int result) => result == 0 ? 0 : Marshal.GetLastPInvokeError();

    private static int Wrap(int result, out SafeFd fd)
    {
        if (result < 0)
        {
            fd = new SafeFd();
            return Marshal.GetLastPInvokeError();
        }

        fd = new SafeFd(result);
        return 0;
    }
}
