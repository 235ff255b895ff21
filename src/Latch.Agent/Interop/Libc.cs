using System.Runtime.InteropServices;

namespace Latch.Agent.Interop;

/// <summary>The few libc calls latchd makes directly; everything else goes through the OS's own tools.</summary>
internal static partial class Libc
{
    public const int SIGHUP = 1;

    [LibraryImport("libc", EntryPoint = "sethostname", SetLastError = true)]
    private static partial int SetHostNameNative(ReadOnlySpan<byte> name, nuint length);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int KillNative(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint GetEffectiveUserId();

    /// <summary>sethostname(2); returns 0 or the errno.</summary>
    public static int SetHostName(string name)
    {
        var bytes = System.Text.Encoding.ASCII.GetBytes(name);
        return SetHostNameNative(bytes, (nuint)bytes.Length) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>kill(2); returns 0 or the errno.</summary>
    public static int Kill(int pid, int signal) => KillNative(pid, signal) == 0 ? 0 : Marshal.GetLastPInvokeError();
}
