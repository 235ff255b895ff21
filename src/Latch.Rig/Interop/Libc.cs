using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Latch.Rig.Interop;

/// <summary>The few libc calls the rig makes directly: signals, unmounts, device nodes and network namespaces.</summary>
internal static partial class Libc
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;
    public const int MNT_DETACH = 2;
    public const int CLONE_NEWNET = 0x40000000;
    public const uint S_IFCHR = 0x2000;
    public const int ESRCH = 3;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "umount2", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Umount2(string target, int flags);

    [LibraryImport("libc", EntryPoint = "mknod", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Mknod(string path, uint mode, ulong dev);

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    public static partial int Setns(SafeFileHandle fd, int nstype);

    /// <summary>glibc's makedev for the small major/minor numbers of the standard character devices.</summary>
    public static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xfff) << 8) | (minor & 0xff) | ((ulong)(minor & ~0xffu) << 12) | ((ulong)(major & ~0xfffu) << 32);

    public static string LastError() => Marshal.GetLastPInvokeErrorMessage();
}
