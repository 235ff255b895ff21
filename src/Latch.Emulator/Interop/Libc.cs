using System.Runtime.InteropServices;

namespace Latch.Emulator.Interop;

/// <summary>The few libc calls the hostile agent needs to keep a file's owner when it renames a new file over it.</summary>
internal static partial class Libc
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxBasicStats = 0x7ff;

    /// <summary>The owner of <paramref name="path"/> (not following a final symlink), or null when it cannot be read.</summary>
    public static unsafe (uint Uid, uint Gid)? Owner(string path)
    {
        // struct statx is 256 bytes on every architecture; stx_uid is at offset 20 and stx_gid at 24.
        var buffer = stackalloc byte[256];
        if (statx(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, buffer) != 0)
        {
            return null;
        }

        return (*(uint*)(buffer + 20), *(uint*)(buffer + 24));
    }

    public static bool SetOwner(string path, uint uid, uint gid) => lchown(path, uid, gid) == 0;

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc", EntryPoint = "lchown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int lchown(string path, uint owner, uint group);
}
