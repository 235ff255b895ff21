using System.Runtime.InteropServices;

namespace Latch.Core.Interop;

/// <summary>
/// The libc calls SafeFile needs. Functions that return a descriptor return a raw int (a SafeHandle return
/// would read the zero-extended 64-bit register and miss -1); <see cref="Posix"/> wraps it at once.
/// </summary>
internal static unsafe partial class Libc
{
    private const string Library = "libc";

    [LibraryImport(Library, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Open(string path, int flags, uint mode);

    [LibraryImport(Library, EntryPoint = "openat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int OpenAt(SafeFd dirFd, string path, int flags, uint mode);

    [LibraryImport(Library, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Statx(SafeFd dirFd, string path, int flags, uint mask, StatxBuffer* buffer);

    [LibraryImport(Library, EntryPoint = "mkdirat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int MkdirAt(SafeFd dirFd, string path, uint mode);

    [LibraryImport(Library, EntryPoint = "renameat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int RenameAt(SafeFd oldDirFd, string oldPath, SafeFd newDirFd, string newPath);

    [LibraryImport(Library, EntryPoint = "unlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int UnlinkAt(SafeFd dirFd, string path, int flags);

    [LibraryImport(Library, EntryPoint = "fchown", SetLastError = true)]
    internal static partial int FChown(SafeFd fd, uint uid, uint gid);

    [LibraryImport(Library, EntryPoint = "fchmod", SetLastError = true)]
    internal static partial int FChmod(SafeFd fd, uint mode);

    [LibraryImport(Library, EntryPoint = "fsync", SetLastError = true)]
    internal static partial int FSync(SafeFd fd);

    [LibraryImport(Library, EntryPoint = "flock", SetLastError = true)]
    internal static partial int Flock(SafeFd fd, int operation);

    [LibraryImport(Library, EntryPoint = "read", SetLastError = true)]
    internal static partial nint Read(SafeFd fd, byte* buffer, nuint count);

    [LibraryImport(Library, EntryPoint = "lseek", SetLastError = true)]
    internal static partial long LSeek(SafeFd fd, long offset, int whence);

    [LibraryImport(Library, EntryPoint = "write", SetLastError = true)]
    internal static partial nint Write(SafeFd fd, byte* buffer, nuint count);

    [LibraryImport(Library, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    /// <summary>realpath(3) into a caller buffer of PATH_MAX bytes.</summary>
    [LibraryImport(Library, EntryPoint = "realpath", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial byte* RealPath(string path, byte* resolved);

    /// <summary>Takes ownership of the descriptor: closedir closes it.</summary>
    [LibraryImport(Library, EntryPoint = "fdopendir", SetLastError = true)]
    internal static partial nint FdOpenDir(int fd);

    /// <summary>readdir64: the same record layout on every Linux architecture (d_name at offset 19).</summary>
    [LibraryImport(Library, EntryPoint = "readdir64", SetLastError = true)]
    internal static partial byte* ReadDir64(nint dir);

    [LibraryImport(Library, EntryPoint = "closedir", SetLastError = true)]
    internal static partial int CloseDir(nint dir);
}
