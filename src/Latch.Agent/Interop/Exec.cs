using System.Runtime.InteropServices;

namespace Latch.Agent.Interop;

/// <summary>execve(2): replaces this process's image (same pid, so systemd keeps tracking it as the main process).</summary>
internal static unsafe partial class Exec
{
    [LibraryImport("libc", EntryPoint = "execve", SetLastError = true)]
    private static partial int ExecveNative(byte* path, byte** argv, byte** envp);

    /// <summary>Does not return on success; returns the errno when the kernel refused (and this process goes on).</summary>
    public static int Replace(string path, IReadOnlyList<string> argv, IReadOnlyList<string> environment)
    {
        var strings = new List<nint>();
        var argvBlock = (byte**)NativeMemory.AllocZeroed((nuint)(argv.Count + 1), (nuint)sizeof(byte*));
        var envBlock = (byte**)NativeMemory.AllocZeroed((nuint)(environment.Count + 1), (nuint)sizeof(byte*));
        try
        {
            var pathBytes = Utf8(path);
            for (var i = 0; i < argv.Count; i++)
            {
                argvBlock[i] = Utf8(argv[i]);
            }

            for (var i = 0; i < environment.Count; i++)
            {
                envBlock[i] = Utf8(environment[i]);
            }

            _ = ExecveNative(pathBytes, argvBlock, envBlock);
            return Marshal.GetLastPInvokeError();
        }
        finally
        {
            foreach (var s in strings)
            {
                Marshal.FreeCoTaskMem(s);
            }

            NativeMemory.Free(argvBlock);
            NativeMemory.Free(envBlock);
        }

        byte* Utf8(string value)
        {
            var p = Marshal.StringToCoTaskMemUTF8(value);
            strings.Add(p);
            return (byte*)p;
        }
    }
}
