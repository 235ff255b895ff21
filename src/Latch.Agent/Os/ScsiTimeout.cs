using System.Globalization;

namespace Latch.Agent.Os;

/// <summary>
/// OS.RootDeviceScsiTimeout: the SCSI command timeout of every sd* disk (/sys/block/sdX/device/timeout), written only
/// where it differs, as waagent does. Azure's disks are SCSI; a longer timeout rides out a storage hiccup instead of
/// failing I/O. Returns the disks changed.
/// </summary>
internal sealed class ScsiTimeout(HostSystem system)
{
    public IReadOnlyList<string> Apply(int seconds)
    {
        var changed = new List<string>();
        var blocks = system.PathOf("/sys/block");
        if (!Directory.Exists(blocks))
        {
            return changed;
        }

        var wanted = seconds.ToString(CultureInfo.InvariantCulture);
        foreach (var disk in Directory.EnumerateFileSystemEntries(blocks).Select(Path.GetFileName).Where(n => n!.StartsWith("sd", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var file = system.PathOf($"/sys/block/{disk}/device/timeout");
            if (!File.Exists(file) || File.ReadAllText(file).Trim() == wanted)
            {
                continue;
            }

            // a sysfs attribute: written in place, never through a temporary file
            File.WriteAllText(file, wanted);
            changed.Add(disk!);
        }

        return changed;
    }
}
