using System.Runtime.InteropServices;

namespace Latch.Demo.Interop;

/// <summary>The demo process's own ids: root decides between the real VM and the sandbox.</summary>
internal static partial class Ids
{
    public static uint Uid => GetUid();

    public static uint Gid => GetGid();

    public static uint EffectiveUid => GetEffectiveUid();

    [LibraryImport("libc", EntryPoint = "getuid")]
    private static partial uint GetUid();

    [LibraryImport("libc", EntryPoint = "getgid")]
    private static partial uint GetGid();

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUid();
}
