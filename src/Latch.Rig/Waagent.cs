namespace Latch.Rig;

/// <summary>Runs Debian's own WALinuxAgent (2.7.3, in the rootfs) inside a VM.</summary>
internal static class Waagent
{
    /// <summary>
    /// waagent.conf settings for the rig. Provisioning off: no provisioning DVD to find. Fast Track stays at waagent's
    /// default (on): the emulator serves the HostGAPlugin's vmSettings. Verbose logs: every HTTP call in /var/log/waagent.log.
    /// Hostname monitoring, resource disk and log collection off: the VM shares the host's UTS namespace,
    /// disks and cgroups, which waagent must not touch.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> RigSettings = new Dictionary<string, string>
    {
        ["Provisioning.Agent"] = "disabled",
        ["Logs.Verbose"] = "y",
        ["Provisioning.MonitorHostName"] = "n",
        ["ResourceDisk.Format"] = "n",
        ["Logs.Collect"] = "n",
        ["OS.EnableFirewall"] = "n",
        ["AutoUpdate.Enabled"] = "n",
    };

    /// <summary>
    /// Overrides that let waagent provision the VM itself from ovf-env.xml on the DVD (see <see cref="ProvisioningDvd"/>):
    /// it sets the hostname, creates the admin user and writes the admin's public keys over ~/.ssh/authorized_keys.
    /// Host keys are not regenerated: the running sshd keeps the rig's.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> ProvisioningSettings = new Dictionary<string, string>
    {
        ["Provisioning.Agent"] = "waagent",
        ["Provisioning.RegenerateSshHostKeyPair"] = "n",
    };

    /// <summary>The file waagent writes when provisioning completed (or was skipped).</summary>
    public const string ProvisionedPath = "/var/lib/waagent/provisioned";

    public const string LogPath = "/var/log/waagent.log";

    /// <summary>Writes the rig's settings (plus <paramref name="overrides"/>) into /etc/waagent.conf and starts `waagent -daemon`.</summary>
    public static async Task<TrackedProcess> StartAsync(Vm vm, IReadOnlyDictionary<string, string>? overrides = null, CancellationToken cancellationToken = default)
    {
        await ConfigureAsync(vm, overrides, cancellationToken);
        return Start(vm);
    }

    /// <summary>`waagent -daemon` as Debian starts it (after <see cref="ConfigureAsync"/>).</summary>
    public static TrackedProcess Start(Vm vm) => vm.StartProcess("waagent", ["/usr/sbin/waagent", "-daemon"]);

    /// <summary>Writes the rig's settings (plus <paramref name="overrides"/>) into /etc/waagent.conf.</summary>
    public static async Task ConfigureAsync(Vm vm, IReadOnlyDictionary<string, string>? overrides = null, CancellationToken cancellationToken = default)
    {
        var settings = new Dictionary<string, string>(RigSettings, StringComparer.Ordinal);
        foreach (var (key, value) in overrides ?? new Dictionary<string, string>())
        {
            settings[key] = value;
        }

        var conf = await vm.ReadFileAsync("/etc/waagent.conf", cancellationToken);
        await vm.WriteFileAsync("/etc/waagent.conf", WaagentConf.Set(conf, settings), cancellationToken: cancellationToken);
    }

    /// <summary>
    /// The lines of a waagent log that complain (an ERROR or WARNING entry, a retry, a failure or an exception) and
    /// mention one of <paramref name="topics"/>. waagent writes "YYYY-MM-DDTHH:MM:SS.ffffffZ LEVEL THREAD message".
    /// </summary>
    public static IReadOnlyList<string> ComplaintsAbout(string log, IReadOnlyList<string> topics)
    {
        string[] signs = [" ERROR ", " WARNING ", "retry", "Retry", "failed", "Failed", "Exception", "exception", "error", "not supported"];
        return [.. log.Split('\n').Where(line =>
            topics.Any(t => line.Contains(t, StringComparison.Ordinal)) && signs.Any(s => line.Contains(s, StringComparison.Ordinal)))];
    }
}
