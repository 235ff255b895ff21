using Latch.Rig;

namespace Latch.VmTests.Guard;

/// <summary>
/// latchd, latch-akc and latchd-guard where a package puts them (/usr/sbin, root, 0755): the paths the sshd drop-in
/// names and sshd checks. The binaries are the rig's one NativeAOT publish per source state (<see cref="Latchd"/>).
/// </summary>
internal static class LatchdBinary
{
    public const string VmPath = "/usr/sbin/latchd";
    public const string AkcVmPath = "/usr/sbin/latch-akc";

    public static Task InstallAsync(Vm vm, CancellationToken cancellationToken = default) => Latchd.InstallPackagedAsync(vm, cancellationToken);
}
