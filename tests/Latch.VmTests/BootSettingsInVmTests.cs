using System.Globalization;
using Latch.Rig;
using Latch.Testing;

namespace Latch.VmTests;

/// <summary>
/// The resource disk (a loop device shown to the VM as /dev/sdb1 behind Azure's /dev/disk/azure/resource-part1 link,
/// or at Latch.ResourceDiskPartition), its swap file, and host-name publishing, after a real <c>latchd provision</c>.
/// </summary>
public sealed class BootSettingsInVmTests
{
    private const string DiskConfig = "[Provisioning]\nAgent = \"latch\"\n[ResourceDisk]\nFormat = true\nMountPoint = \"/mnt/resource\"\nEnableSwap = true\nSwapSizeMB = 16\n";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Azures_untouched_ntfs_resource_disk_is_formatted_mounted_and_swapped_on_and_a_reboot_only_mounts_it_again()
    {
        Requires.Tool("losetup", "mount");
        Requires.Tool("mkntfs", "ntfs-3g");
        await using var rig = await ProvisioningRig.StartAsync(cancellationToken: Ct);
        await using var disk = await LoopDisk.CreateAsync(rig.Vm, "Temporary Storage");
        await disk.ShowAsync("/dev/disk/azure/resource-part1");
        await rig.Vm.WriteFileAsync("/etc/latch/latchd.toml", DiskConfig, cancellationToken: Ct);

        var first = await rig.ProvisionAsync();

        Assert.True(first.Succeeded, rig.Explain(first));
        Assert.True(first.Stderr.Contains("resource disk: /dev/disk/azure/resource-part1 mounted at /mnt/resource (formatted ext4), 16 MB swap on", StringComparison.Ordinal), rig.Explain(first));
        Assert.Equal("ext4", (await rig.Vm.ExecAsync(["blkid", "-p", "-o", "value", "-s", "TYPE", "/dev/sdb1"], cancellationToken: Ct)).Stdout.Trim());
        Assert.Contains(" /mnt/resource ", await InVmAsync(rig.Vm, "/proc/self/mountinfo"), StringComparison.Ordinal);
        Assert.Contains("/mnt/resource/swapfile", await InVmAsync(rig.Vm, "/proc/swaps"), StringComparison.Ordinal);
        Assert.Equal("600 root 16777216", (await rig.Vm.RunAsync("stat -c '%a %U %s' /mnt/resource/swapfile", cancellationToken: Ct)).Stdout.Trim());
        Assert.Contains("THIS IS A TEMPORARY DISK", await rig.Vm.ReadFileAsync("/mnt/resource/DATALOSS_WARNING_README.txt", Ct), StringComparison.Ordinal);
        Assert.Equal("Ready", (await rig.ReportsAsync())[^1].State);

        // a reboot: swap off, disk unmounted, something of the user's left on it; the next start must not format again
        await rig.Vm.WriteFileAsync("/mnt/resource/kept-across-reboot", "mine\n", cancellationToken: Ct);
        await disk.SwapOffAndUnmountAsync();
        var again = await rig.ProvisionAsync();

        Assert.True(again.Succeeded, rig.Explain(again));
        Assert.Contains("already provisioned", again.Stderr, StringComparison.Ordinal);
        Assert.True(again.Stderr.Contains("resource disk: /dev/disk/azure/resource-part1 mounted at /mnt/resource, 16 MB swap on", StringComparison.Ordinal), rig.Explain(again));
        Assert.Equal("mine\n", await rig.Vm.ReadFileAsync("/mnt/resource/kept-across-reboot", Ct));
        Assert.Contains("/mnt/resource/swapfile", await InVmAsync(rig.Vm, "/proc/swaps"), StringComparison.Ordinal);

        // and a third start with everything in place changes nothing
        var third = await rig.ProvisionAsync();
        Assert.True(third.Succeeded, rig.Explain(third));
        Assert.Single((await InVmAsync(rig.Vm, "/proc/swaps")).Split('\n'), l => l.StartsWith("/mnt/resource/swapfile", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_configured_partition_holding_someone_elses_ntfs_is_left_alone_and_ready_is_still_reported()
    {
        Requires.Tool("losetup", "mount");
        Requires.Tool("mkntfs", "ntfs-3g");
        await using var rig = await ProvisioningRig.StartAsync(cancellationToken: Ct);
        await using var disk = await LoopDisk.CreateAsync(rig.Vm, "Data");
        await disk.ShowAsync(null);
        await rig.Vm.WriteFileAsync("/etc/latch/latchd.toml", DiskConfig + "[Latch]\nResourceDiskPartition = \"/dev/sdb1\"\n", cancellationToken: Ct);

        var result = await rig.ProvisionAsync();

        Assert.True(result.Succeeded, rig.Explain(result));
        Assert.True(result.Stderr.Contains("resource disk left alone: /dev/sdb1 holds ntfs labelled 'Data': not empty and not the NTFS Azure ships", StringComparison.Ordinal), rig.Explain(result));
        Assert.Equal("ntfs Data", (await rig.Vm.RunAsync("blkid -p -o value -s TYPE /dev/sdb1; blkid -p -o value -s LABEL /dev/sdb1", cancellationToken: Ct)).Stdout.Trim().Replace('\n', ' '));
        Assert.DoesNotContain(" /mnt/resource ", await InVmAsync(rig.Vm, "/proc/self/mountinfo"), StringComparison.Ordinal);
        Assert.Equal("Ready", (await rig.ReportsAsync())[^1].State);
    }

    [Fact]
    public async Task Provisioning_makes_dhclient_and_networkd_send_the_host_name()
    {
        await using var rig = await ProvisioningRig.StartAsync(cancellationToken: Ct);
        await rig.Vm.WriteFileAsync("/etc/dhcp/dhclient.conf", "send host-name \"golden-image\";\nrequest subnet-mask, routers;\n", cancellationToken: Ct);
        await rig.Vm.WriteFileAsync("/etc/systemd/network/10-eth0.network", "[Match]\nName=eth0\n\n[Network]\nDHCP=ipv4\n", cancellationToken: Ct);

        var result = await rig.ProvisionAsync();

        Assert.True(result.Succeeded, rig.Explain(result));
        Assert.Equal(
            "# (latchd: replaced by the line below) send host-name \"golden-image\";\nrequest subnet-mask, routers;\n"
            + "# latchd: send this machine's host name with every DHCP request (Azure's DNS learns it)\nsend host-name = gethostname();\n",
            await rig.Vm.ReadFileAsync("/etc/dhcp/dhclient.conf", Ct));
        Assert.Contains("[DHCPv4]\nSendHostname=yes\n", await rig.Vm.ReadFileAsync("/etc/systemd/network/10-eth0.network.d/50-latch-hostname.conf", Ct), StringComparison.Ordinal);
        Assert.Contains("host name publishing: /etc/dhcp/dhclient.conf: set 'send host-name = gethostname();'", result.Stderr, StringComparison.Ordinal);
        Assert.Equal("vm1", (await rig.Vm.ExecAsync(["hostname"], cancellationToken: Ct)).Stdout.Trim());
    }

    /// <summary>A /proc file as a process inside the VM (chrooted) sees it: paths relative to the VM's root.</summary>
    private static async Task<string> InVmAsync(Vm vm, string path) => (await vm.ExecAsync(["cat", path], cancellationToken: Ct)).Stdout;

    /// <summary>A 64 MB image on a loop device, NTFS-formatted with a label, shown to the VM as /dev/sdb1; removed by name at dispose.</summary>
    private sealed class LoopDisk(Vm vm, string image, string loop) : IAsyncDisposable
    {
        public static async Task<LoopDisk> CreateAsync(Vm vm, string ntfsLabel)
        {
            var image = Path.Combine(vm.Directory, "resource.img");
            await using (var file = File.Create(image))
            {
                file.SetLength(64L * 1024 * 1024);
            }

            var attached = await Command.RunAsync(["losetup", "--find", "--show", image], cancellationToken: Ct);
            Assert.True(attached.Succeeded, attached.Stderr);
            var disk = new LoopDisk(vm, image, attached.Stdout.Trim());
            var made = await Command.RunAsync(["mkntfs", "-Q", "-F", "-L", ntfsLabel, disk._loop], cancellationToken: Ct);
            if (!made.Succeeded)
            {
                await disk.DisposeAsync();
                Assert.Fail($"mkntfs: {made.Stdout}{made.Stderr}");
            }

            return disk;
        }

        private readonly string _loop = loop;

        /// <summary>/dev/sdb1 in the VM (the loop device's numbers), and <paramref name="link"/> pointing at it.</summary>
        public async Task ShowAsync(string? link)
        {
            var numbers = (await Command.RunAsync(["stat", "-c", "%t %T", _loop], cancellationToken: Ct)).Stdout.Trim().Split(' ');
            var made = await Command.RunAsync(["mknod", vm.Root + "/dev/sdb1", "b",
                Convert.ToInt32(numbers[0], 16).ToString(CultureInfo.InvariantCulture), Convert.ToInt32(numbers[1], 16).ToString(CultureInfo.InvariantCulture)], cancellationToken: Ct);
            Assert.True(made.Succeeded, made.Stderr);
            if (link is not null)
            {
                Directory.CreateDirectory(vm.Root + Path.GetDirectoryName(link));
                File.CreateSymbolicLink(vm.Root + link, "../../sdb1");
            }
        }

        public async Task SwapOffAndUnmountAsync()
        {
            var swapFile = vm.Root + "/mnt/resource/swapfile";
            if ((await File.ReadAllTextAsync("/proc/swaps", Ct)).Contains(swapFile, StringComparison.Ordinal))
            {
                Assert.True((await Command.RunAsync(["swapoff", swapFile], cancellationToken: Ct)).Succeeded);
            }

            Assert.True((await Command.RunAsync(["umount", vm.Root + "/mnt/resource"], cancellationToken: Ct)).Succeeded);
        }

        public async ValueTask DisposeAsync()
        {
            // swap first (a swap file keeps the file system busy), then the mount, then the loop device, each by name
            var swapFile = vm.Root + "/mnt/resource/swapfile";
            if ((await File.ReadAllTextAsync("/proc/swaps", CancellationToken.None)).Contains(swapFile, StringComparison.Ordinal))
            {
                await Command.RunAsync(["swapoff", swapFile], cancellationToken: CancellationToken.None);
            }

            if ((await File.ReadAllTextAsync("/proc/self/mountinfo", CancellationToken.None)).Contains(" " + vm.Root + "/mnt/resource ", StringComparison.Ordinal))
            {
                await Command.RunAsync(["umount", vm.Root + "/mnt/resource"], cancellationToken: CancellationToken.None);
            }

            await Command.RunAsync(["losetup", "-d", _loop], cancellationToken: CancellationToken.None);
            File.Delete(image);
        }
    }
}
