using Latch.Rig;

namespace Latch.VmTests.Guard;

/// <summary>
/// latchd and latch-akc where a package puts them (/usr/sbin, root, 0755): the paths the sshd drop-in names and sshd
/// checks. The binaries are the rig's one NativeAOT publish per source state (<see cref="Latchd"/>).
/// </summary>
internal static class LatchdBinary
{
    public const string VmPath = "/usr/sbin/latchd";
    public const string AkcVmPath = "/usr/sbin/latch-akc";

    public static async Task InstallAsync(Vm vm, CancellationToken cancellationToken = default)
    {
        var latchd = await Latchd.EnsurePublishedAsync(cancellationToken);
        foreach (var (source, path) in new[] { (latchd, VmPath), (Path.Combine(Path.GetDirectoryName(latchd)!, "latch-akc"), AkcVmPath) })
        {
            var target = vm.Root + path;
            File.Copy(source, target, overwrite: true);
            await Command.CheckAsync(["chown", "root:root", target], cancellationToken: cancellationToken);
            File.SetUnixFileMode(target, (UnixFileMode)0b111_101_101);
        }
    }
}
