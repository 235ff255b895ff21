using System.Globalization;
using Latch.Agent.Config;
using Latch.Core.Files;

namespace Latch.Agent.Os;

/// <summary>What happened to the resource disk; <see cref="Detail"/> says why in words.</summary>
internal enum ResourceDiskOutcome
{
    /// <summary>No partition at /dev/disk/azure/resource-part1 nor at Latch.ResourceDiskPartition.</summary>
    NotFound,

    /// <summary>Mounted (formatted first when it was empty or Azure's untouched NTFS).</summary>
    Mounted,

    /// <summary>The partition holds something latchd will not format, or is mounted elsewhere: left alone.</summary>
    Refused,

    /// <summary>A command failed (mkfs, mount, swap).</summary>
    Failed,
}

internal sealed record ResourceDiskResult(ResourceDiskOutcome Outcome, string Detail, string? Partition = null, bool Formatted = false, bool Swap = false);

/// <summary>
/// The Azure resource (temporary) disk, when ResourceDisk.Format=y: found where Azure's udev rules put it
/// (/dev/disk/azure/resource-part1), else at Latch.ResourceDiskPartition; never guessed. Its partition is formatted
/// ext4 only when it holds no filesystem signature at all, or the NTFS Azure ships on a fresh disk (label
/// "Temporary Storage"; when ntfsls is installed its root must hold nothing but Azure's own files). A partition with
/// anything else (another filesystem, a RAID or LVM member, a LUKS header) is left alone. Then it is mounted at
/// ResourceDisk.MountPoint and, with ResourceDisk.EnableSwap, a swap file of ResourceDisk.SwapSizeMB is made and
/// enabled. Every step checks the current state first, so a reboot (ext4 already there) only mounts and swaps on.
/// </summary>
internal sealed class ResourceDisk(HostSystem system, AgentConfig config)
{
    public const string AzureLink = "/dev/disk/azure/resource-part1";
    public const string AzureNtfsLabel = "Temporary Storage";
    public const string WarningFileName = "DATALOSS_WARNING_README.txt";

    private static readonly string[] s_azureNtfsFiles = ["dataloss_warning_readme.txt", "system volume information"];

    private const string Warning = """
        WARNING: THIS IS A TEMPORARY DISK (the Azure resource disk).

        Azure may wipe it when the VM is stopped, resized, redeployed or moved to another host: anything stored here
        can be lost with no way to recover it. Keep no personal or application data on it.

        latchd formats it (ext4) and mounts it here on every boot when ResourceDisk.Format=y.

        """;

    public async Task<ResourceDiskResult> ActivateAsync(CancellationToken cancellationToken = default)
    {
        var partition = File.Exists(system.PathOf(AzureLink)) ? AzureLink
            : config.ResourceDiskPartition is { } configured && File.Exists(system.PathOf(configured)) ? configured
            : null;
        if (partition is null)
        {
            return new(ResourceDiskOutcome.NotFound, $"no resource disk: {AzureLink} does not exist"
                + (config.ResourceDiskPartition is { } p ? $" and neither does {p} (Latch.ResourceDiskPartition)" : " (set Latch.ResourceDiskPartition to use another partition)"));
        }

        var device = await system.RunAsync(["stat", "-L", "-c", "%F %t %T", partition], cancellationToken: cancellationToken).ConfigureAwait(false);
        var fields = device.Stdout.Trim().Split(' ');
        if (!device.Succeeded || !device.Stdout.StartsWith("block special file ", StringComparison.Ordinal) || fields.Length < 5)
        {
            return new(ResourceDiskOutcome.Refused, $"{partition} is not a block device ({device.Output}); left alone", partition);
        }

        var majorMinor = $"{Convert.ToInt32(fields[^2], 16).ToString(CultureInfo.InvariantCulture)}:{Convert.ToInt32(fields[^1], 16).ToString(CultureInfo.InvariantCulture)}";
        var mountPoint = config.ResourceDiskMountPoint;
        var mountedAt = MountPointsOf(majorMinor);
        var formatted = false;
        if (mountedAt.Count > 0 && !mountedAt.Contains(mountPoint))
        {
            return new(ResourceDiskOutcome.Refused, $"{partition} is already mounted at {string.Join(", ", mountedAt)}; left there (ResourceDisk.MountPoint is {mountPoint})", partition);
        }

        if (mountedAt.Count == 0)
        {
            var probe = await ProbeAsync(partition, cancellationToken).ConfigureAwait(false);
            if (probe.Error is { } probeError)
            {
                return new(ResourceDiskOutcome.Failed, probeError, partition);
            }

            var type = probe.Values.GetValueOrDefault("TYPE");
            if (type != "ext4")
            {
                if (await WhyNotFormatAsync(partition, probe.Values, cancellationToken).ConfigureAwait(false) is { } refusal)
                {
                    return new(ResourceDiskOutcome.Refused, refusal, partition);
                }

                var mkfs = await system.RunAsync(["mkfs.ext4", "-F", "-q", partition], cancellationToken: cancellationToken).ConfigureAwait(false);
                if (!mkfs.Succeeded)
                {
                    return new(ResourceDiskOutcome.Failed, $"mkfs.ext4 {partition} exited {mkfs.ExitCode}: {mkfs.Output}", partition);
                }

                formatted = true;
            }

            Directory.CreateDirectory(system.PathOf(mountPoint));
            IReadOnlyList<string> mount = config.ResourceDiskMountOptions is { } options
                ? ["mount", "-t", "ext4", "-o", options, partition, mountPoint]
                : ["mount", "-t", "ext4", partition, mountPoint];
            var mounted = await system.RunAsync(mount, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (!mounted.Succeeded)
            {
                return new(ResourceDiskOutcome.Failed, $"{string.Join(' ', mount)} exited {mounted.ExitCode}: {mounted.Output}", partition, formatted);
            }
        }

        var warning = system.PathOf(mountPoint + "/" + WarningFileName);
        if (!File.Exists(warning))
        {
            SafeFile.WriteSystemFile(warning, System.Text.Encoding.UTF8.GetBytes(Warning), 0b110_100_100, cancellationToken);
        }

        if (!config.ResourceDiskEnableSwap || config.ResourceDiskSwapSizeMb <= 0)
        {
            return new(ResourceDiskOutcome.Mounted, $"{partition} mounted at {mountPoint}" + (formatted ? " (formatted ext4)" : ""), partition, formatted);
        }

        var swap = await new SwapFile(system, mountPoint + "/swapfile", config.ResourceDiskSwapSizeMb).EnsureAsync(cancellationToken).ConfigureAwait(false);
        return swap is null
            ? new(ResourceDiskOutcome.Mounted, $"{partition} mounted at {mountPoint}" + (formatted ? " (formatted ext4)" : "") + $", {config.ResourceDiskSwapSizeMb} MB swap on", partition, formatted, Swap: true)
            : new(ResourceDiskOutcome.Failed, $"{partition} mounted at {mountPoint}, but swap failed: {swap}", partition, formatted);
    }

    /// <summary>Null when the partition may be formatted: no signature at all, or Azure's untouched NTFS; else why not.</summary>
    private async Task<string?> WhyNotFormatAsync(string partition, IReadOnlyDictionary<string, string> probe, CancellationToken cancellationToken)
    {
        if (probe.Count == 0)
        {
            return null;
        }

        var what = probe.TryGetValue("TYPE", out var type) ? type + (probe.TryGetValue("LABEL", out var label) ? $" labelled '{label}'" : " without a label")
            : probe.TryGetValue("PTTYPE", out var table) ? $"a {table} partition table"
            : string.Join(' ', probe.Select(p => p.Key + "=" + p.Value));
        var refusal = $"{partition} holds {what}: not empty and not the NTFS Azure ships on a fresh resource disk, so it may hold data and latchd will not format it. "
            + "If it is yours to wipe, run 'wipefs -a " + partition + "' and restart latchd; or set ResourceDisk.Format=n";
        if (type != "ntfs" || probe.GetValueOrDefault("LABEL") != AzureNtfsLabel)
        {
            return refusal;
        }

        if (!system.HasProgram("ntfsls"))
        {
            // cloud-init, too, formats the NTFS it cannot look into; the label is Azure's, and this is the disk Azure names
            return null;
        }

        var listing = await system.RunAsync(["ntfsls", "-a", partition], cancellationToken: cancellationToken).ConfigureAwait(false);
        if (!listing.Succeeded)
        {
            return $"{partition} holds Azure's NTFS but ntfsls could not list it ({listing.Output}); not formatting a disk whose content is unknown";
        }

        var others = listing.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(n => !n.StartsWith('$') && n is not ("." or "..") && !s_azureNtfsFiles.Contains(n.ToLowerInvariant()))
            .ToList();
        return others.Count == 0 ? null
            : $"{partition} holds Azure's NTFS, but with files of someone's ({string.Join(", ", others.Take(5))}); latchd will not format it. Copy what you need, then run 'wipefs -a {partition}' and restart latchd";
    }

    /// <summary>blkid's low-level probe of the partition (no cache): its KEY=value pairs, empty when it found nothing.</summary>
    private async Task<(Dictionary<string, string> Values, string? Error)> ProbeAsync(string partition, CancellationToken cancellationToken)
    {
        var blkid = await system.RunAsync(["blkid", "-p", "-o", "export", partition], cancellationToken: cancellationToken).ConfigureAwait(false);
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        if (blkid.ExitCode == 2)
        {
            // blkid: nothing detected
            return (values, null);
        }

        if (!blkid.Succeeded)
        {
            return (values, $"blkid -p {partition} exited {blkid.ExitCode}: {blkid.Output}; not touching a partition it cannot identify");
        }

        foreach (var line in blkid.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0 && line[..equals] != "DEVNAME")
            {
                // export format escapes shell-special characters (a space in a label) with a backslash
                values[line[..equals]] = Unescape(line[(equals + 1)..]);
            }
        }

        return (values, null);
    }

    private static string Unescape(string value)
    {
        var text = new System.Text.StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            text.Append(value[i] == '\\' && i + 1 < value.Length ? value[++i] : value[i]);
        }

        return text.ToString();
    }

    /// <summary>Where the device major:minor is mounted, from /proc/self/mountinfo (paths as this process sees them).</summary>
    private List<string> MountPointsOf(string majorMinor)
    {
        var mounts = new List<string>();
        foreach (var line in (system.TryReadText("/proc/self/mountinfo") ?? "").Split('\n'))
        {
            var fields = line.Split(' ');
            if (fields.Length > 4 && fields[2] == majorMinor)
            {
                mounts.Add(fields[4].Replace("\\040", " ", StringComparison.Ordinal));
            }
        }

        return mounts;
    }
}
