using System.Runtime.InteropServices;
using System.Text;

namespace Latch.Agent.Guard.Interop;

/// <summary>One inotify event: the watch it came from, what happened, and the name inside a watched directory.</summary>
internal readonly record struct InotifyEvent(int Watch, uint Mask, string Name)
{
    public bool Is(uint flag) => (Mask & flag) != 0;
}

/// <summary>
/// An inotify instance (inotify_init1 with IN_NONBLOCK|IN_CLOEXEC). <see cref="Wait"/> polls with a timeout, so the
/// caller's loop stays cancellable without a second thread. Errors come back as errnos; ENOSPC from
/// <see cref="AddWatch"/> means the user's watch limit (fs.inotify.max_user_watches) is reached.
/// </summary>
internal sealed unsafe partial class Inotify : IDisposable
{
    public const uint IN_MODIFY = 0x2;
    public const uint IN_ATTRIB = 0x4;
    public const uint IN_CLOSE_WRITE = 0x8;
    public const uint IN_MOVED_FROM = 0x40;
    public const uint IN_MOVED_TO = 0x80;
    public const uint IN_CREATE = 0x100;
    public const uint IN_DELETE = 0x200;
    public const uint IN_DELETE_SELF = 0x400;
    public const uint IN_MOVE_SELF = 0x800;
    public const uint IN_UNMOUNT = 0x2000;
    public const uint IN_Q_OVERFLOW = 0x4000;
    public const uint IN_IGNORED = 0x8000;
    public const uint IN_ONLYDIR = 0x1000000;
    public const uint IN_DONT_FOLLOW = 0x2000000;
    public const uint IN_ISDIR = 0x40000000;
    public const int ENOSPC = 28;
    public const int EMFILE = 24;
    private const int IN_NONBLOCK = 0x800;
    private const int IN_CLOEXEC = 0x80000;
    private const short POLLIN = 1;
    private const int EINTR = 4;
    private const int EAGAIN = 11;

    private readonly int _fd;
    private readonly int _wake;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private bool _disposed;

    private Inotify(int fd, int wake)
    {
        _fd = fd;
        _wake = wake;
    }

    public static int Create(out Inotify? inotify)
    {
        inotify = null;
        var fd = InotifyInit1(IN_NONBLOCK | IN_CLOEXEC);
        if (fd < 0)
        {
            return Marshal.GetLastPInvokeError();
        }

        var wake = EventFd(0, IN_NONBLOCK | IN_CLOEXEC);
        if (wake < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            _ = Close(fd);
            return errno;
        }

        inotify = new Inotify(fd, wake);
        return 0;
    }

    /// <summary>Makes a <see cref="Wait"/> in another thread return now (an eventfd in the same poll).</summary>
    public void Wake()
    {
        ulong one = 1;
        _ = Write(_wake, (byte*)&one, 8);
    }

    /// <summary>Adds (or updates) a watch; returns the watch descriptor, or the negated errno.</summary>
    public int AddWatch(string path, uint mask)
    {
        var wd = InotifyAddWatch(_fd, path, mask);
        return wd >= 0 ? wd : -Marshal.GetLastPInvokeError();
    }

    public void RemoveWatch(int watch) => _ = InotifyRmWatch(_fd, watch);

    /// <summary>Waits up to <paramref name="timeout"/> for events and reads what is queued; an empty list on timeout.</summary>
    public List<InotifyEvent> Wait(TimeSpan timeout)
    {
        var events = new List<InotifyEvent>();
        var polls = stackalloc PollFd[2];
        polls[0] = new PollFd { Fd = _fd, Events = POLLIN };
        polls[1] = new PollFd { Fd = _wake, Events = POLLIN };
        var ms = (int)Math.Clamp(Math.Ceiling(timeout.TotalMilliseconds), 0, int.MaxValue);
        var ready = Poll(polls, 2, ms);
        if (ready <= 0)
        {
            return events;
        }

        if ((polls[1].Revents & POLLIN) != 0)
        {
            ulong count;
            _ = Read(_wake, (byte*)&count, 8);
        }

        if ((polls[0].Revents & POLLIN) == 0)
        {
            return events;
        }

        while (true)
        {
            nint got;
            fixed (byte* p = _buffer)
            {
                got = Read(_fd, p, (nuint)_buffer.Length);
            }

            if (got < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR)
                {
                    continue;
                }

                return events;
            }

            Parse(_buffer.AsSpan(0, (int)got), events);
            if (got < _buffer.Length - 4096)
            {
                return events;
            }
        }
    }

    private static void Parse(ReadOnlySpan<byte> data, List<InotifyEvent> events)
    {
        // struct inotify_event { int wd; uint32_t mask; uint32_t cookie; uint32_t len; char name[len]; }
        var at = 0;
        while (at + 16 <= data.Length)
        {
            var wd = MemoryMarshal.Read<int>(data[at..]);
            var mask = MemoryMarshal.Read<uint>(data[(at + 4)..]);
            var length = (int)MemoryMarshal.Read<uint>(data[(at + 12)..]);
            var name = data.Slice(at + 16, length);
            var end = name.IndexOf((byte)0);
            events.Add(new InotifyEvent(wd, mask, Encoding.UTF8.GetString(end >= 0 ? name[..end] : name)));
            at += 16 + length;
        }
    }

    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _ = Close(_fd);
            _ = Close(_wake);
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "inotify_init1", SetLastError = true)]
    private static partial int InotifyInit1(int flags);

    [LibraryImport("libc", EntryPoint = "inotify_add_watch", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int InotifyAddWatch(int fd, string path, uint mask);

    [LibraryImport("libc", EntryPoint = "inotify_rm_watch", SetLastError = true)]
    private static partial int InotifyRmWatch(int fd, int wd);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(PollFd* fds, nuint count, int timeout);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint Read(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    private static partial int EventFd(uint initial, int flags);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint Write(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
