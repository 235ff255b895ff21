using System.Text;
using Latch.Agent.Interop;
using Latch.Agent.Provisioning;
using Latch.Core.Files;

namespace Latch.Agent.Os;

/// <summary>The host name: the kernel's (sethostname), /etc/hostname, and Debian's 127.0.1.1 line in /etc/hosts.</summary>
internal sealed class HostName(HostSystem system)
{
    public void Set(string name, CancellationToken cancellationToken = default)
    {
        if (system.IsLiveSystem)
        {
            var errno = Libc.SetHostName(name);
            if (errno != 0)
            {
                throw new ProvisioningException("hostname", "SetHostNameFailed", $"sethostname({name}) failed with errno {errno}");
            }
        }

        SafeFile.WriteSystemFile(system.PathOf("/etc/hostname"), Encoding.ASCII.GetBytes(name + "\n"), 0b110_100_100, cancellationToken);
        var hosts = system.TryReadText("/etc/hosts") ?? "127.0.0.1\tlocalhost\n";
        SafeFile.WriteSystemFile(system.PathOf("/etc/hosts"), Encoding.UTF8.GetBytes(WithLoopbackName(hosts, name)), 0b110_100_100, cancellationToken);
    }

    /// <summary>/etc/hosts with its 127.0.1.1 line naming <paramref name="name"/> (replaced in place, or added after 127.0.0.1).</summary>
    internal static string WithLoopbackName(string hosts, string name)
    {
        var short_ = name.Split('.')[0];
        var entry = short_ == name ? $"127.0.1.1\t{name}" : $"127.0.1.1\t{name} {short_}";
        var lines = hosts.TrimEnd('\n').Split('\n').ToList();
        var index = lines.FindIndex(l => l.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries) is [ "127.0.1.1", .. ]);
        if (index >= 0)
        {
            lines[index] = entry;
        }
        else
        {
            var loopback = lines.FindIndex(l => l.TrimStart().StartsWith("127.0.0.1", StringComparison.Ordinal));
            lines.Insert(loopback + 1, entry);
        }

        return string.Join('\n', lines) + "\n";
    }
}
