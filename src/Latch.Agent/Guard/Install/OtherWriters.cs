namespace Latch.Agent.Guard.Install;

/// <summary>Another program on the VM that writes authorized_keys, and what in its configuration makes it do so.</summary>
internal sealed record OtherWriter(string Name, string Detail);

/// <summary>Finds the other writers of keys on an Azure VM: waagent, cloud-init, the VMAccess extension, other AuthorizedKeysCommands.</summary>
internal static class OtherWriters
{
    private static readonly string[] s_cloudKeyModules = ["ssh", "ssh_import_id", "ssh-import-id", "users_groups", "users-groups", "set_passwords", "set-passwords"];
    private static readonly string[] s_cloudKeySettings = ["ssh_authorized_keys", "allow_public_ssh_keys", "disable_root", "ssh_deletekeys"];

    public static IReadOnlyList<OtherWriter> Find(GuardLayout layout)
    {
        var found = new List<OtherWriter>();
        if (File.Exists(layout.WaagentConf))
        {
            var conf = File.ReadAllText(layout.WaagentConf);
            var settings = conf.Split('\n').Select(l => l.Trim())
                .Where(l => l.StartsWith("Provisioning.", StringComparison.Ordinal) && l.Contains('=', StringComparison.Ordinal))
                .Select(l => l.Split('#')[0].Trim()).ToList();
            var provisioned = File.Exists(layout.WaagentLib + "/provisioned") ? "provisioned" : "not provisioned yet";
            found.Add(new OtherWriter("waagent", $"{layout.WaagentConf} ({provisioned}): " + (settings.Count > 0 ? string.Join(", ", settings) : "no Provisioning.* settings (defaults: Provisioning.Agent=auto)")
                + "; it appends ovf-env keys (mode 0644) while provisioning"));
        }

        if (File.Exists(layout.CloudConfig) || Directory.Exists(layout.CloudConfigDir))
        {
            var modules = new List<string>();
            var settings = new List<string>();
            var files = new List<string>();
            if (File.Exists(layout.CloudConfig))
            {
                files.Add(layout.CloudConfig);
            }

            if (Directory.Exists(layout.CloudConfigDir))
            {
                var dropIns = Directory.GetFiles(layout.CloudConfigDir, "*.cfg");
                Array.Sort(dropIns, StringComparer.Ordinal);
                files.AddRange(dropIns);
            }

            foreach (var file in files)
            {
                foreach (var raw in File.ReadAllLines(file))
                {
                    var line = raw.Trim();
                    if (line.StartsWith("- ", StringComparison.Ordinal))
                    {
                        var module = line[2..].Trim().Trim('[', ']').Split(',')[0].Trim();
                        if (s_cloudKeyModules.Contains(module, StringComparer.Ordinal) && !modules.Contains(module))
                        {
                            modules.Add(module);
                        }
                    }
                    else if (s_cloudKeySettings.FirstOrDefault(s => line.StartsWith(s + ":", StringComparison.Ordinal)) is { } setting)
                    {
                        settings.Add($"{Path.GetFileName(file)}: {line}");
                    }
                }
            }

            found.Add(new OtherWriter("cloud-init", "key modules: " + (modules.Count > 0 ? string.Join(", ", modules) : "none listed")
                + (settings.Count > 0 ? "; " + string.Join("; ", settings) : "")));
        }

        if (Directory.Exists(layout.WaagentLib))
        {
            foreach (var dir in Directory.GetDirectories(layout.WaagentLib, "Microsoft.OSTCExtensions.VMAccessForLinux*").Order(StringComparer.Ordinal))
            {
                found.Add(new OtherWriter("VMAccess", $"{dir}: resets keys when asked through Azure (appends, or replaces with remove_prior_keys); Latch cannot stop it"));
            }
        }

        foreach (var setting in SshdConfigScan.FindCommands(layout).Where(s => s.File != layout.DropInPath))
        {
            found.Add(new OtherWriter("AuthorizedKeysCommand", $"{setting.File}:{setting.Line}: {setting.Value}{(setting.InMatchBlock ? " (inside a Match block)" : "")}"));
        }

        return found;
    }
}
