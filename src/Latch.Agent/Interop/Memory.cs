using System.Runtime.InteropServices;

namespace Latch.Agent.Interop;

/// <summary>madvise(2), for handing clean pages back to the kernel once the daemon is idle.</summary>
internal static partial class Memory
{
    /// <summary>MADV_PAGEOUT (Linux 5.4): reclaim these pages now; they fault back in from their file when touched.</summary>
    public const int MadvPageOut = 21;

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static partial int MadviseNative(nint address, nuint length, int advice);

    /// <summary>Returns 0 or the errno.</summary>
    public static int Advise(nint address, nuint length, int advice) =>
        MadviseNative(address, length, advice) == 0 ? 0 : Marshal.GetLastPInvokeError();
}
