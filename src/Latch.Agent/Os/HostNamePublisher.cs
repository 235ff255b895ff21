using System.Text;
using Latch.Core.Files;

namespace Latch.Agent.Os;

/// <summary>
/// Publishes the host name the way Azure's DNS learns it: in the DHCP request. dhclient (isc-dhcp-client) gets
/// <c>send host-name = gethostname();</c> in /etc/dhcp/dhclient.conf; systemd-networkd gets a drop-in with
/// <c>SendHostname=yes</c> for every .network file. Files are rewritten only when they differ. A running networkd
/// renews its leases at once (networkctl renew); dhclient sends the name with its next renewal (forcing one means
/// releasing the lease, which would cut the VM off its network).
/// </summary>
internal sealed class HostNamePublisher(HostSystem system)
{
    public const string DhclientConf = "/etc/dhcp/dhclient.conf";
    public const string SendHostName = "send host-name = gethostname();";
    public const string NetworkdDropInName = "50-latch-hostname.conf";
    public const string NetworkdDropIn = "# Written by latchd: send the host name with DHCP requests (Azure's DNS learns it from them)\n[DHCPv4]\nSendHostname=yes\n";

    private static readonly string[] s_networkDirectories = ["/etc/systemd/network", "/run/systemd/network", "/usr/lib/systemd/network", "/lib/systemd/network"];

    /// <summary>Configures every DHCP client found and renews where that is safe; returns what it did, one line each.</summary>
    public async Task<IReadOnlyList<string>> PublishAsync(CancellationToken cancellationToken = default)
    {
        var done = new List<string>();
        if (system.HasProgram("dhclient") || File.Exists(system.PathOf(DhclientConf)))
        {
            done.Add(ConfigureDhclient(cancellationToken));
            if (IsRunning("dhclient"))
            {
                done.Add("dhclient is running: it sends the host name with its next lease renewal");
            }
        }

        // networkd is in use when it is installed, or when the machine has .network files of its own
        var networkd = File.Exists(system.PathOf("/lib/systemd/systemd-networkd")) || File.Exists(system.PathOf("/usr/lib/systemd/systemd-networkd"))
            || s_networkDirectories.Take(2).Select(system.PathOf).Any(d => Directory.Exists(d) && Directory.EnumerateFiles(d, "*.network").Any());
        if (networkd)
        {
            done.AddRange(ConfigureNetworkd(cancellationToken));
            if (system.IsLiveSystem && IsRunning("systemd-networkd"))
            {
                foreach (var link in Directory.EnumerateFileSystemEntries("/sys/class/net").Select(Path.GetFileName).Where(n => n is not (null or "lo")).Order(StringComparer.Ordinal))
                {
                    var renewed = await system.RunAsync(["networkctl", "renew", link!], cancellationToken: cancellationToken).ConfigureAwait(false);
                    done.Add(renewed.Succeeded ? $"networkctl renew {link}" : $"networkctl renew {link} exited {renewed.ExitCode}: {renewed.Output}");
                }
            }
        }

        if (done.Count == 0)
        {
            done.Add("no dhclient or systemd-networkd found: nothing to configure for publishing the host name");
        }

        return done;
    }

    private string ConfigureDhclient(CancellationToken cancellationToken)
    {
        var text = system.TryReadText(DhclientConf) ?? "";
        var updated = WithSendHostName(text);
        if (updated == text)
        {
            return $"{DhclientConf} already sends the host name";
        }

        Directory.CreateDirectory(system.PathOf("/etc/dhcp"));
        SafeFile.WriteSystemFile(system.PathOf(DhclientConf), Encoding.UTF8.GetBytes(updated), 0b110_100_100, cancellationToken);
        return $"{DhclientConf}: set '{SendHostName}'";
    }

    /// <summary>dhclient.conf sending the machine's own name: an active fixed <c>send host-name "…";</c> is commented out.</summary>
    internal static string WithSendHostName(string text)
    {
        var lines = text.Length == 0 ? [] : text.TrimEnd('\n').Split('\n').ToList();
        if (lines.Any(l => Normalize(l) == Normalize(SendHostName)))
        {
            return text;
        }

        for (var i = 0; i < lines.Count; i++)
        {
            if (lines[i].TrimStart().StartsWith("send host-name", StringComparison.Ordinal))
            {
                lines[i] = "# (latchd: replaced by the line below) " + lines[i];
            }
        }

        lines.Add("# latchd: send this machine's host name with every DHCP request (Azure's DNS learns it)");
        lines.Add(SendHostName);
        return string.Join('\n', lines) + "\n";

        static string Normalize(string line) => string.Concat(line.Split('#')[0].Where(c => !char.IsWhiteSpace(c)));
    }

    private List<string> ConfigureNetworkd(CancellationToken cancellationToken)
    {
        var done = new List<string>();
        var names = s_networkDirectories
            .Select(system.PathOf).Where(Directory.Exists)
            .SelectMany(d => Directory.EnumerateFiles(d, "*.network")).Select(Path.GetFileName).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        foreach (var name in names)
        {
            var directory = "/etc/systemd/network/" + name + ".d";
            var path = directory + "/" + NetworkdDropInName;
            if (system.TryReadText(path) == NetworkdDropIn)
            {
                done.Add($"{path} already sends the host name");
                continue;
            }

            Directory.CreateDirectory(system.PathOf(directory));
            SafeFile.WriteSystemFile(system.PathOf(path), Encoding.UTF8.GetBytes(NetworkdDropIn), 0b110_100_100, cancellationToken);
            done.Add($"{path}: SendHostname=yes");
        }

        if (done.Count == 0)
        {
            done.Add("systemd-networkd has no .network file: nothing to send the host name with");
        }

        return done;
    }

    /// <summary>True when a process of that name runs (its /proc/PID/comm); on a --root tree nothing of it runs.</summary>
    private bool IsRunning(string name) =>
        system.IsLiveSystem && Directory.EnumerateDirectories("/proc").Any(d =>
            Path.GetFileName(d).All(char.IsAsciiDigit) && TryRead(d + "/comm")?.Trim() == name);

    private static string? TryRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
