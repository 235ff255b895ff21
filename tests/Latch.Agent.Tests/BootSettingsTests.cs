using Latch.Agent.Config;
using Latch.Agent.Os;

namespace Latch.Agent.Tests;

/// <summary>The SCSI timeout, host-name publishing and resource disk settings, on real files of a --root sandbox.</summary>
public sealed class BootSettingsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void Scsi_timeout_is_written_to_sd_disks_that_differ_and_nowhere_else()
    {
        using var sandbox = new Sandbox();
        foreach (var (disk, value) in new[] { ("sda", "30\n"), ("sdb", "300\n"), ("vda", "30\n") })
        {
            Directory.CreateDirectory(sandbox.PathOf($"/sys/block/{disk}/device"));
            File.WriteAllText(sandbox.PathOf($"/sys/block/{disk}/device/timeout"), value);
        }

        var changed = new ScsiTimeout(sandbox.System).Apply(300);

        Assert.Equal(["sda"], changed);
        Assert.Equal("300", File.ReadAllText(sandbox.PathOf("/sys/block/sda/device/timeout")));
        Assert.Equal("300\n", File.ReadAllText(sandbox.PathOf("/sys/block/sdb/device/timeout")));
        Assert.Equal("30\n", File.ReadAllText(sandbox.PathOf("/sys/block/vda/device/timeout")));
        Assert.Empty(new ScsiTimeout(sandbox.System).Apply(300));
    }

    [Fact]
    public async Task Host_name_publishing_configures_dhclient_and_networkd_once_and_a_second_run_changes_nothing()
    {
        using var sandbox = new Sandbox();
        Directory.CreateDirectory(sandbox.PathOf("/etc/dhcp"));
        File.WriteAllText(sandbox.PathOf("/etc/dhcp/dhclient.conf"), "option rfc3442-classless-static-routes code 121 = array of unsigned integer 8;\nsend host-name \"image-builder\";\nrequest subnet-mask;\n");
        Directory.CreateDirectory(sandbox.PathOf("/etc/systemd/network"));
        File.WriteAllText(sandbox.PathOf("/etc/systemd/network/10-eth0.network"), "[Match]\nName=eth0\n[Network]\nDHCP=yes\n");

        var first = await new HostNamePublisher(sandbox.System).PublishAsync(Ct);
        var snapshot = sandbox.Snapshot();
        var second = await new HostNamePublisher(sandbox.System).PublishAsync(Ct);

        Assert.Equal(["/etc/dhcp/dhclient.conf: set 'send host-name = gethostname();'", "/etc/systemd/network/10-eth0.network.d/50-latch-hostname.conf: SendHostname=yes"], first);
        Assert.Equal(["/etc/dhcp/dhclient.conf already sends the host name", "/etc/systemd/network/10-eth0.network.d/50-latch-hostname.conf already sends the host name"], second);
        Assert.Equal(snapshot, sandbox.Snapshot());
        var dhclient = File.ReadAllText(sandbox.PathOf("/etc/dhcp/dhclient.conf"));
        Assert.StartsWith("option rfc3442-classless-static-routes code 121 = array of unsigned integer 8;\n# (latchd: replaced by the line below) send host-name \"image-builder\";\nrequest subnet-mask;\n", dhclient, StringComparison.Ordinal);
        Assert.EndsWith("\nsend host-name = gethostname();\n", dhclient, StringComparison.Ordinal);
        Assert.Equal("# Written by latchd: send the host name with DHCP requests (Azure's DNS learns it from them)\n[DHCPv4]\nSendHostname=yes\n",
            File.ReadAllText(sandbox.PathOf("/etc/systemd/network/10-eth0.network.d/50-latch-hostname.conf")));
    }

    [Theory]
    [InlineData("send host-name = gethostname();\n")]
    [InlineData("  send   host-name=gethostname() ;  # Debian's default\n")]
    public void A_dhclient_conf_that_already_sends_the_machines_name_is_kept_as_it_is(string text) =>
        Assert.Equal(text, HostNamePublisher.WithSendHostName(text));

    [Fact]
    public async Task Without_a_dhcp_client_publishing_says_so_and_writes_nothing()
    {
        using var sandbox = new Sandbox();
        var before = sandbox.Snapshot();

        var done = await new HostNamePublisher(sandbox.System).PublishAsync(Ct);

        Assert.Equal(["no dhclient or systemd-networkd found: nothing to configure for publishing the host name"], done);
        Assert.Equal(before, sandbox.Snapshot());
    }

    [Fact]
    public void Resource_disk_and_scsi_keys_are_read_from_waagent_conf()
    {
        var config = AgentConfig.From(ConfigFile.ParseWaagentConf("""
            ResourceDisk.Format=y
            ResourceDisk.Filesystem=ext4
            ResourceDisk.MountPoint=/mnt/resource/
            ResourceDisk.MountOptions=None
            ResourceDisk.EnableSwap=y
            ResourceDisk.SwapSizeMB=2048
            OS.RootDeviceScsiTimeout=300
            """), "/etc/waagent.conf", strict: false);

        Assert.Equal((true, "/mnt/resource", null, true, 2048, 300), (config.ResourceDiskFormat, config.ResourceDiskMountPoint, config.ResourceDiskMountOptions,
            config.ResourceDiskEnableSwap, config.ResourceDiskSwapSizeMb, config.RootDeviceScsiTimeout));
        Assert.Empty(config.Ignored);
    }

    [Theory]
    [InlineData("ResourceDisk.Filesystem=xfs", "ext4 only")]
    [InlineData("ResourceDisk.MountPoint=/", "must not be /")]
    [InlineData("ResourceDisk.MountOptions=noatime;reboot", "mount options such as")]
    [InlineData("ResourceDisk.SwapSizeMB=-1", "whole number from 0")]
    [InlineData("OS.RootDeviceScsiTimeout=forever", "whole number from 1 to 3600")]
    public void Bad_resource_disk_settings_are_refused_with_the_key_named(string line, string expected)
    {
        var error = Assert.Throws<ConfigException>(() => AgentConfig.From(ConfigFile.ParseWaagentConf(line), "/etc/waagent.conf", strict: false));

        Assert.Contains(line.Split('=')[0], error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }
}
