using System.Runtime.InteropServices;

namespace Latch.Core.Interop;

/// <summary>An open Linux file descriptor, closed exactly once.</summary>
internal sealed class SafeFd : SafeHandle
{
    public SafeFd() : base(-1, ownsHandle: true)
    {
    }

    internal SafeFd(int fd) : base(-1, ownsHandle: true) => SetHandle(fd);

    public override bool IsInvalid => (int)handle < 0;

    /// <summary>The number, for diagnostics and for handing a duplicate to fdopendir only.</summary>
    internal int Number => (int)handle;

    protected override bool ReleaseHandle() => Libc.Close((int)handle) == 0;
}
