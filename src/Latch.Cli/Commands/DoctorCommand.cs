using System.CommandLine;
using System.Text.Json;
using Latch.Azure;
using Latch.Cli.Azure;

namespace Latch.Cli.Commands;

/// <summary>
/// <c>latch doctor VM</c>: the secure-VM checklist. From ARM: a non-default admin name and no NSG rule that lets
/// the whole Internet reach port 22. From the VM (one read-only run-command running <c>sshd -T</c>): key-only
/// authentication, no root login, and whether latchd is installed. Exit 1 when a check fails.
/// </summary>
internal static class DoctorCommand
{
    private static readonly string[] s_defaultAdmins = ["azureuser", "admin", "administrator", "root", "user", "ubuntu", "test", "guest", "centos", "ec2-user"];
    private static readonly string[] s_anywhere = ["*", "internet", "any", "0.0.0.0/0", "::/0", "0.0.0.0"];

    internal const string Script = """
        export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
        sshd_bin=$(command -v sshd || echo /usr/sbin/sshd)
        if [ -x "$sshd_bin" ]; then
          "$sshd_bin" -T 2>/dev/null | grep -Ei '^(passwordauthentication|kbdinteractiveauthentication|challengeresponseauthentication|permitrootlogin|pubkeyauthentication) ' || echo "sshd-t failed"
        else
          echo "sshd missing"
        fi
        if command -v latchd >/dev/null 2>&1; then echo "latchd yes"; else echo "latchd no"; fi
        """;

    public static Command Create(CliStreams streams, GlobalOptions globals)
    {
        var vm = new Argument<string>("VM") { Description = "VM name" };
        var group = SharedOptions.ResourceGroup();
        var json = SharedOptions.Json();
        var command = new Command("doctor", "Check a VM against the secure-VM checklist");
        command.Arguments.Add(vm);
        command.Options.Add(group);
        command.Options.Add(json);
        command.SetAction((parse, ct) => CommandRunner.RunAsync(streams, globals, parse, async (cli, token) =>
        {
            var name = parse.GetValue(vm)!;
            using var azure = await AzureSession.CreateAsync(cli, token).ConfigureAwait(false);
            var resolver = new VmResolver(cli, azure);
            var arm = await resolver.ResolveAsync(name, parse.GetValue(group), token).ConfigureAwait(false);
            var checks = new List<DoctorCheck>();
            var admin = arm.AdminUsername ?? "";
            checks.Add(new DoctorCheck("non-default admin name", !s_defaultAdmins.Contains(admin, StringComparer.OrdinalIgnoreCase),
                admin.Length == 0 ? "ARM reports no admin user" : $"admin user is '{admin}'"));

            var addresses = await resolver.GetAddressesAsync(arm, token).ConfigureAwait(false);
            if (addresses.NetworkSecurityGroupId is { } nsg)
            {
                var rules = await VmResolver.CallAsync(() => azure.Arm.GetSecurityRulesAsync(nsg, token)).ConfigureAwait(false);
                var open = FirstOpenSshRule(rules);
                checks.Add(new DoctorCheck("SSH not open to the world", open is null,
                    open is null ? "no inbound rule allows port 22 from any address" : $"NSG rule '{open.Name}' (priority {open.Priority}) allows port 22 from {string.Join(",", open.SourceAddressPrefixes)}; restrict its source to your addresses"));
            }
            else
            {
                checks.Add(new DoctorCheck("SSH not open to the world", addresses.PublicIpAddress is null, addresses.PublicIpAddress is null ? "no NSG on the NIC, but no public IP either" : "the NIC has a public IP and no NSG"));
            }

            try
            {
                var result = await azure.RunCommand.RunShellScriptAsync(arm.Id, [Script], null, CommandRunner.SyncTimeout(cli, null) * 2, token).ConfigureAwait(false);
                checks.AddRange(FromSshd(result.Stdout));
            }
            catch (AzureRequestException e)
            {
                var detail = $"could not read sshd's settings ({e.Message.Split('\n')[0]}): {Sync.KeySyncer.AdviceFor(e)}";
                checks.Add(new DoctorCheck("key-only authentication", null, detail));
                checks.Add(new DoctorCheck("no root login", null, detail));
                checks.Add(new DoctorCheck("latch agent present", null, detail));
            }

            if (parse.GetValue(json))
            {
                await cli.Streams.Out.WriteLineAsync(JsonSerializer.Serialize(checks, CliJsonContext.Output.ListDoctorCheck)).ConfigureAwait(false);
            }
            else
            {
                foreach (var check in checks)
                {
                    var mark = check.Ok switch { true => "ok  ", false => "FAIL", null => "??  " };
                    await cli.Streams.Out.WriteLineAsync($"{mark} {check.Check}: {check.Detail}").ConfigureAwait(false);
                }
            }

            return checks.All(c => c.Ok == true) ? ExitCodes.Success : ExitCodes.Problems;
        }, ct));
        return command;
    }

    internal static ArmSecurityRule? FirstOpenSshRule(IReadOnlyList<ArmSecurityRule> rules)
    {
        // rules are in priority order; the first inbound rule that matches port 22 from anywhere decides
        foreach (var rule in rules.Where(r => r.Direction.Equals("Inbound", StringComparison.OrdinalIgnoreCase)))
        {
            var covers22 = rule.DestinationPortRanges.Any(Covers22) && rule.Protocol is "*" or "Tcp" or "TCP" or "tcp";
            var fromAnywhere = rule.SourceAddressPrefixes.Any(p => s_anywhere.Contains(p, StringComparer.OrdinalIgnoreCase));
            if (covers22 && fromAnywhere)
            {
                return rule.Access.Equals("Allow", StringComparison.OrdinalIgnoreCase) ? rule : null;
            }
        }

        return null;
    }

    private static bool Covers22(string range)
    {
        if (range == "*")
        {
            return true;
        }

        var dash = range.IndexOf('-', StringComparison.Ordinal);
        return dash < 0
            ? range.Trim() == "22"
            : int.TryParse(range[..dash], out var low) && int.TryParse(range[(dash + 1)..], out var high) && low <= 22 && high >= 22;
    }

    internal static IEnumerable<DoctorCheck> FromSshd(string output)
    {
        var settings = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Split(' ', 2))
            .Where(p => p.Length == 2)
            .GroupBy(p => p[0].ToLowerInvariant())
            .ToDictionary(g => g.Key, g => g.First()[1].ToLowerInvariant());
        if (!settings.ContainsKey("passwordauthentication"))
        {
            var why = output.Contains("sshd missing", StringComparison.Ordinal) ? "sshd is not installed" : "sshd -T printed no settings";
            yield return new DoctorCheck("key-only authentication", null, why);
            yield return new DoctorCheck("no root login", null, why);
        }
        else
        {
            var password = settings.GetValueOrDefault("passwordauthentication");
            var keyboard = settings.GetValueOrDefault("kbdinteractiveauthentication") ?? settings.GetValueOrDefault("challengeresponseauthentication") ?? "no";
            yield return new DoctorCheck("key-only authentication", password == "no" && keyboard == "no",
                $"PasswordAuthentication {password}, KbdInteractiveAuthentication {keyboard}{(password == "no" && keyboard == "no" ? "" : "; set both to 'no' in sshd_config")}");
            var root = settings.GetValueOrDefault("permitrootlogin") ?? "?";
            yield return new DoctorCheck("no root login", root == "no", $"PermitRootLogin {root}{(root == "no" ? "" : "; set it to 'no'")}");
        }

        var agent = output.Contains("latchd yes", StringComparison.Ordinal);
        yield return new DoctorCheck("latch agent present", agent, agent ? "latchd is installed" : "latchd is not installed (keys drift back only when latch connects)");
    }
}
