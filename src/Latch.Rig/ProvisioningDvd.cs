namespace Latch.Rig;

/// <summary>
/// Azure's provisioning DVD as waagent finds it when it is already mounted. The kernel of this machine kind has no
/// iso9660, udf or vfat, so the emulator's ISO cannot be mounted. waagent 2.7.3 does not need to mount it itself:
/// <c>mount_dvd</c> takes the first /dev entry matching <c>sr[0-9]|hd[c-z]|cdrom[0-9]|cd[0-9]|vd[b-z]</c>, looks for it
/// in <c>mount</c>'s output and, when it is listed, mounts nothing ("already mounted"); <c>copy_ovf_env</c> then reads
/// ovf-env.xml from DVD.MountPoint (default /mnt/cdrom/secure), copies it to /var/lib/waagent, unmounts that point
/// and runs <c>eject</c> on the device. The rig lists a read-only tmpfs whose source is /dev/sr0 at the mount point,
/// holding the emulator's ovf-env.xml; waagent itself is not changed. The VM's teardown unmounts it if waagent did not.
/// </summary>
internal static class ProvisioningDvd
{
    public const string Device = "/dev/sr0";
    public const string MountPoint = "/mnt/cdrom/secure";
    public const string OvfEnvFileName = "ovf-env.xml";

    /// <summary>Puts <paramref name="ovfEnvPath"/> (a host path, e.g. from <see cref="EmulatorProcess.WriteMediaAsync"/>) on the VM's "mounted DVD".</summary>
    public static async Task InsertAsync(Vm vm, string ovfEnvPath, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(vm);
        // A regular file, not a block device node: waagent only lists /dev's names, and its `eject` must never reach
        // a real drive of the host (an Azure machine running CI has its own provisioning DVD as sr0).
        var device = vm.Root + Device;
        await File.WriteAllBytesAsync(device, [], cancellationToken);
        File.SetUnixFileMode(device, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);

        var point = vm.Root + MountPoint;
        Directory.CreateDirectory(point);
        await Command.CheckAsync(["mount", "-t", "tmpfs", "-o", "mode=0700,size=1m,nosuid,nodev,noexec", Device, point], cancellationToken: cancellationToken);
        var target = Path.Combine(point, OvfEnvFileName);
        File.Copy(ovfEnvPath, target);
        File.SetUnixFileMode(target, UnixFileMode.UserRead);
        // a DVD is read-only: so is its stand-in
        await Command.CheckAsync(["mount", "-o", "remount,ro", point], cancellationToken: cancellationToken);
    }

    /// <summary>Whether the stand-in is still mounted (waagent unmounts it after copying ovf-env.xml).</summary>
    public static bool IsMounted(Vm vm)
    {
        ArgumentNullException.ThrowIfNull(vm);
        return Mounts.Under(vm.Root + MountPoint).Count > 0;
    }
}
