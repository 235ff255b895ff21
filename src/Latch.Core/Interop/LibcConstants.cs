using System.Runtime.InteropServices;

namespace Latch.Core.Interop;

/// <summary>
/// Linux flag and errno values. Most are the asm-generic values; O_DIRECTORY and O_NOFOLLOW differ on
/// arm, arm64 and powerpc, so they are chosen at run time.
/// </summary>
internal static class LibcConstants
{
    private static readonly bool s_armLayout = RuntimeInformation.ProcessArchitecture
        is Architecture.Arm or Architecture.Arm64 or Architecture.Armv6 or Architecture.Ppc64le;

    public const int O_RDONLY = 0;
    public const int O_WRONLY = 1;
    public const int O_CREAT = 0x40;
    public const int O_EXCL = 0x80;
    public const int O_NOCTTY = 0x100;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;
    public static readonly int O_DIRECTORY = s_armLayout ? 0x4000 : 0x10000;
    public static readonly int O_NOFOLLOW = s_armLayout ? 0x8000 : 0x20000;

    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const int AT_NO_AUTOMOUNT = 0x800;
    public const int AT_EMPTY_PATH = 0x1000;

    public const uint STATX_BASIC_STATS = 0x7ff;

    public const int LOCK_EX = 2;
    public const int LOCK_NB = 4;

    public const uint S_IFMT = 0xF000;
    public const uint S_IFDIR = 0x4000;
    public const uint S_IFREG = 0x8000;
    public const uint S_IFLNK = 0xA000;

    public const int SEEK_SET = 0;

    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int EEXIST = 17;
    public const int ENOTDIR = 20;
    public const int ELOOP = 40;
}
