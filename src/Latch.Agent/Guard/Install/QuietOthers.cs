using System.Text;
using Latch.Core.Files;

namespace Latch.Agent.Guard.Install;

/// <summary>
/// <c>latchd guard install --quiet-others</c>: reversible settings that stop the other key writers on an Azure VM
/// from rewriting authorized_keys, with the originals kept under the backup directory so uninstall restores them
/// byte for byte. cloud-init gets a drop-in; waagent (which has no drop-in directory) gets one edited line; the
/// VMAccess extension cannot be stopped without disabling every extension, so it is only reported.
/// </summary>
internal sealed class QuietOthers(GuardLayout layout, TextWriter output)
{
    /// <summary>
    /// cloud-init's ssh module imports the datasource's (Azure's) public keys into the default user's file on every new
    /// instance id unless allow_public_ssh_keys is false; ssh_deletekeys regenerates host keys then. disable_root is
    /// left alone: its default adds a refusing command= stub to root's file, which is safe.
    /// </summary>
    public const string CloudDropIn =
        "# Written by 'latchd guard install --quiet-others'; 'latchd guard uninstall' removes it.\n" +
        "# Latch manages SSH keys: cloud-init stops importing the platform's public keys into authorized_keys.\n" +
        "allow_public_ssh_keys: false\n" +
        "ssh_deletekeys: false\n";

    private const int Mode0644 = 0b110_100_100;

    private string Manifest => layout.BackupDir + "/quiet-others";

    public void Apply(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(layout.BackupDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var manifest = ReadManifest();
        if (Directory.Exists(layout.CloudConfigDir) || File.Exists(layout.CloudConfig))
        {
            var current = File.Exists(layout.CloudDropInPath) ? File.ReadAllBytes(layout.CloudDropInPath) : null;
            if (current is null || Encoding.UTF8.GetString(current) != CloudDropIn)
            {
                if (!manifest.ContainsKey("cloud"))
                {
                    if (current is not null)
                    {
                        SafeFile.WriteSystemFile(layout.BackupDir + "/cloud-dropin.orig", current, 0b110_000_000, cancellationToken);
                    }

                    manifest["cloud"] = current is null ? "created" : "replaced";
                }

                Directory.CreateDirectory(layout.CloudConfigDir);
                SafeFile.WriteSystemFile(layout.CloudDropInPath, Encoding.UTF8.GetBytes(CloudDropIn), Mode0644, cancellationToken);
                output.WriteLine($"cloud-init: wrote {layout.CloudDropInPath} (allow_public_ssh_keys: false, ssh_deletekeys: false)");
            }
        }
        else
        {
            output.WriteLine("cloud-init: not installed, nothing to quiet");
        }

        if (File.Exists(layout.WaagentConf))
        {
            var original = File.ReadAllBytes(layout.WaagentConf);
            var text = Encoding.UTF8.GetString(original);
            if (!File.Exists(layout.WaagentLib + "/provisioned"))
            {
                output.WriteLine($"waagent: left alone, because it has not finished provisioning ({layout.WaagentLib}/provisioned is missing); run --quiet-others again after the first boot");
            }
            else if (WaagentValue(text, "Provisioning.Agent") == "disabled")
            {
                output.WriteLine("waagent: Provisioning.Agent is already disabled");
            }
            else
            {
                var edited = SetWaagentValue(text, "Provisioning.Agent", "disabled");
                if (!manifest.ContainsKey("waagent"))
                {
                    SafeFile.WriteSystemFile(layout.BackupDir + "/waagent.conf.orig", original, 0b110_000_000, cancellationToken);
                    manifest["waagent"] = "edited";
                }

                SafeFile.WriteSystemFile(layout.WaagentConf, Encoding.UTF8.GetBytes(edited), Mode0644, cancellationToken);
                SafeFile.WriteSystemFile(layout.BackupDir + "/waagent.conf.latch", Encoding.UTF8.GetBytes(edited), 0b110_000_000, cancellationToken);
                output.WriteLine($"waagent: set Provisioning.Agent=disabled in {layout.WaagentConf} (it deploys ovf-env keys only while provisioning; a re-provision on a new instance id would append them again)");
            }
        }

        output.WriteLine("VMAccess: cannot be quieted (it runs as root whenever the VM's owner resets SSH settings through Azure; stopping it means Extensions.Enabled=n, which stops every extension). The AuthorizedKeysCommand and the file guard keep managed keys working after it writes.");
        WriteManifest(manifest, cancellationToken);
    }

    /// <summary>Undoes <see cref="Apply"/>; false when a file changed since and was left for the administrator.</summary>
    public bool Restore(CancellationToken cancellationToken)
    {
        var manifest = ReadManifest();
        var clean = true;
        if (manifest.TryGetValue("cloud", out var cloud))
        {
            var current = File.Exists(layout.CloudDropInPath) ? File.ReadAllText(layout.CloudDropInPath) : null;
            if (current is not null && current != CloudDropIn)
            {
                output.WriteLine($"cloud-init: {layout.CloudDropInPath} changed since latchd wrote it; left as it is");
                clean = false;
            }
            else if (cloud == "replaced")
            {
                SafeFile.WriteSystemFile(layout.CloudDropInPath, File.ReadAllBytes(layout.BackupDir + "/cloud-dropin.orig"), Mode0644, cancellationToken);
                output.WriteLine($"cloud-init: restored the earlier {layout.CloudDropInPath}");
            }
            else
            {
                if (current is not null)
                {
                    File.Delete(layout.CloudDropInPath);
                }

                output.WriteLine($"cloud-init: removed {layout.CloudDropInPath}");
            }

            manifest.Remove("cloud");
        }

        if (manifest.ContainsKey("waagent"))
        {
            var ours = File.ReadAllBytes(layout.BackupDir + "/waagent.conf.latch");
            var current = File.Exists(layout.WaagentConf) ? File.ReadAllBytes(layout.WaagentConf) : null;
            if (current is null || !current.AsSpan().SequenceEqual(ours))
            {
                output.WriteLine($"waagent: {layout.WaagentConf} changed since latchd edited it; not overwritten. The original is {layout.BackupDir}/waagent.conf.orig (latchd had set Provisioning.Agent=disabled).");
                clean = false;
            }
            else
            {
                SafeFile.WriteSystemFile(layout.WaagentConf, File.ReadAllBytes(layout.BackupDir + "/waagent.conf.orig"), Mode0644, cancellationToken);
                output.WriteLine($"waagent: restored the original {layout.WaagentConf}");
            }

            manifest.Remove("waagent");
        }

        WriteManifest(manifest, cancellationToken);
        return clean;
    }

    /// <summary>waagent.conf's value for a key: the last uncommented Key=value line, text before '#', quotes removed.</summary>
    public static string? WaagentValue(string conf, string key)
    {
        string? value = null;
        foreach (var raw in conf.Split('\n'))
        {
            var line = raw.Trim();
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (line.StartsWith('#') || eq <= 0 || line[..eq].Trim() != key)
            {
                continue;
            }

            var text = line[(eq + 1)..];
            var hash = text.IndexOf('#', StringComparison.Ordinal);
            value = (hash >= 0 ? text[..hash] : text).Trim().Trim('"');
        }

        return value;
    }

    /// <summary>Sets a key in waagent.conf text: replaces its active lines, else uncomments the first commented one, else appends.</summary>
    public static string SetWaagentValue(string conf, string key, string value)
    {
        var lines = conf.Split('\n').ToList();
        var done = false;
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i].Trim();
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (!line.StartsWith('#') && eq > 0 && line[..eq].Trim() == key)
            {
                lines[i] = $"{key}={value}";
                done = true;
            }
        }

        if (!done)
        {
            for (var i = 0; i < lines.Count && !done; i++)
            {
                var line = lines[i].TrimStart('#', ' ');
                var eq = line.IndexOf('=', StringComparison.Ordinal);
                if (lines[i].TrimStart().StartsWith('#') && eq > 0 && line[..eq].Trim() == key)
                {
                    lines[i] = $"{key}={value}";
                    done = true;
                }
            }
        }

        var result = string.Join('\n', lines);
        return done ? result : result.TrimEnd('\n') + $"\n{key}={value}\n";
    }

    /// <summary>What --quiet-others changed and uninstall would restore ("cloud", "waagent"), from its manifest.</summary>
    public IReadOnlyList<string> Applied() => [.. ReadManifest().Keys.Order(StringComparer.Ordinal)];

    private Dictionary<string, string> ReadManifest()
    {
        var manifest = new Dictionary<string, string>(StringComparer.Ordinal);
        if (File.Exists(Manifest))
        {
            foreach (var line in File.ReadAllLines(Manifest))
            {
                var parts = line.Split(' ', 2);
                if (parts.Length == 2)
                {
                    manifest[parts[0]] = parts[1];
                }
            }
        }

        return manifest;
    }

    private void WriteManifest(Dictionary<string, string> manifest, CancellationToken cancellationToken)
    {
        if (manifest.Count == 0)
        {
            if (File.Exists(Manifest))
            {
                File.Delete(Manifest);
            }

            return;
        }

        Directory.CreateDirectory(layout.BackupDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var text = string.Concat(manifest.Select(kv => $"{kv.Key} {kv.Value}\n"));
        SafeFile.WriteSystemFile(Manifest, Encoding.UTF8.GetBytes(text), 0b110_000_000, cancellationToken);
    }
}
