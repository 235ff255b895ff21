using System.Runtime.InteropServices;
using Latch.Core.Interop;

namespace Latch.Core.Tests.Files;

/// <summary>Path-based libc calls the tests use to build attacks and to inspect what happened.</summary>
internal static unsafe partial class TestLibc
{
    private const int AtFdCwd = -100;
    private const uint RenameExchange = 2;

    public static FileStatus LStat(string path)
    {
        StatxBuffer buffer;
        Check(statx(AtFdCwd, path, LibcConstants.AT_SYMLINK_NOFOLLOW, LibcConstants.STATX_BASIC_STATS, &buffer), "statx", path);
        return new FileStatus(buffer.Mode, buffer.Uid, buffer.Gid, buffer.NLink, buffer.Ino,
            ((ulong)buffer.DevMajor << 32) | buffer.DevMinor, buffer.Size, buffer.MTimeSeconds, buffer.MTimeNanoseconds);
    }

    public static void LChown(string path, uint uid, uint gid) => Check(lchown(path, uid, gid), "lchown", path);

    public static void Chmod(string path, int mode) => Check(chmod(path, (uint)mode), "chmod", path);

    public static void HardLink(string existing, string newPath) => Check(link(existing, newPath), "link", newPath);

    public static void MakeFifo(string path) => Check(mkfifo(path, 0b110_000_000), "mkfifo", path);

    /// <summary>Atomically swaps two names (renameat2 RENAME_EXCHANGE); false when one of them is missing.</summary>
    public static bool Exchange(string a, string b) => renameat2(AtFdCwd, a, AtFdCwd, b, RenameExchange) == 0;

    private static void Check(int result, string call, string path)
    {
        if (result != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"{call} {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int dirFd, string path, int flags, uint mask, StatxBuffer* buffer);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int lchown(string path, uint uid, uint gid);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int chmod(string path, uint mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int link(string existing, string newPath);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mkfifo(string path, uint mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int renameat2(int oldDirFd, string oldPath, int newDirFd, string newPath, uint flags);
}
