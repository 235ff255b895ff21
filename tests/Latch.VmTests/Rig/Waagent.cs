namespace Latch.VmTests.Rig;

/// <summary>Runs Debian's own WALinuxAgent (2.7.3, in the rootfs) inside a VM.</summary>
internal static class Waagent
{
    /// <summary>
    /// waagent.conf settings for the rig. Provisioning off: no provisioning DVD to find. Fast Track off: its
    /// HostGAPlugin path hits a Python 3.11 crash in 2.7.3. Verbose logs: every HTTP call in /var/log/waagent.log.
    /// Hostname monitoring, resource disk and log collection off: the VM shares the host's UTS namespace,
    /// disks and cgroups, which waagent must not touch.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> RigSettings = new Dictionary<string, string>
    {
        ["Provisioning.Agent"] = "disabled",
        ["Debug.EnableFastTrack"] = "n",
        ["Logs.Verbose"] = "y",
        ["Provisioning.MonitorHostName"] = "n",
        ["ResourceDisk.Format"] = "n",
        ["Logs.Collect"] = "n",
        ["OS.EnableFirewall"] = "n",
        ["AutoUpdate.Enabled"] = "n",
    };

    public const string LogPath = "/var/log/waagent.log";

    /// <summary>Writes the rig's settings (plus <paramref name="overrides"/>) into /etc/waagent.conf and starts `waagent -daemon`.</summary>
    public static async Task<TrackedProcess> StartAsync(Vm vm, IReadOnlyDictionary<string, string>? overrides = null, CancellationToken cancellationToken = default)
    {
        var settings = new Dictionary<string, string>(RigSettings, StringComparer.Ordinal);
        foreach (var (key, value) in overrides ?? new Dictionary<string, string>())
        {
            settings[key] = value;
        }

        var conf = await vm.ReadFileAsync("/etc/waagent.conf", cancellationToken);
        await vm.WriteFileAsync("/etc/waagent.conf", WaagentConf.Set(conf, settings), cancellationToken: cancellationToken);
        return vm.StartProcess("waagent", ["/usr/sbin/waagent", "-daemon"]);
    }
}
