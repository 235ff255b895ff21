using System.CommandLine;
using System.Text;
using System.Text.Json;
using Latch.Cli.Azure;
using Latch.Cli.Keys;
using Latch.Cli.Ssh;
using Latch.Cli.Sync;
using Latch.Core.Keys;

namespace Latch.Cli.Commands;

/// <summary>
/// <c>latch keys status VM</c>: the keys in the user's authorized_keys (one read-only run-command or ssh session),
/// which of them Latch manages (the Key Vault key, comments <c>latch:…</c>, latchd's list) and their expiry-time.
/// </summary>
internal static class KeysStatusCommand
{
    public static Command Create(CliStreams streams, GlobalOptions globals)
    {
        var vm = new Argument<string>("VM") { Description = "VM name" };
        var group = SharedOptions.ResourceGroup();
        var user = SharedOptions.User();
        var method = SharedOptions.SyncMethod();
        var timeout = SharedOptions.SyncTimeout();
        var json = SharedOptions.Json();
        var identity = SharedOptions.IdentityFile();
        var command = new Command("status", "Show which keys a VM has and which of them Latch manages");
        command.Arguments.Add(vm);
        foreach (var option in (Option[])[group, user, method, timeout, json, identity])
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, ct) => CommandRunner.RunAsync(streams, globals, parse, async (cli, token) =>
        {
            var name = parse.GetValue(vm)!;
            using var azure = await AzureSession.CreateAsync(cli, token).ConfigureAwait(false);
            var resolver = new VmResolver(cli, azure);
            var keyTask = new KeySource(cli, azure, parse.GetValue(identity)).GetAsync(name, token);
            var arm = await resolver.ResolveAsync(name, parse.GetValue(group), token).ConfigureAwait(false);
            var key = await keyTask.ConfigureAwait(false);
            var vmUser = CommandRunner.User(cli, parse.GetValue(user), name, arm);
            var vmMethod = CommandRunner.Method(cli, parse.GetValue(method), name);
            vmMethod = vmMethod is KeySyncer.Agent or KeySyncer.Skip ? KeySyncer.RunCommand : vmMethod;
            SshTarget? ssh = null;
            if (vmMethod is KeySyncer.Auto or KeySyncer.Ssh)
            {
                var addresses = await resolver.GetAddressesAsync(arm, token).ConfigureAwait(false);
                ssh = new SshTarget(CommandRunner.Host(cli, addresses), CommandRunner.Port(cli), vmUser, key.IdentityFile, []);
            }

            if (!SyncScript.TryCreate(SyncMode.Status, vmUser, key.PublicLine, null, 15, out var script, out var problem))
            {
                throw new CliException(ExitCodes.UsageOrIo, problem);
            }

            var syncer = new KeySyncer(cli, azure, CommandRunner.Audit(cli));
            var (outcome, _, error, advice) = await syncer.RunScriptAsync(new SyncTarget(arm.Name, arm.ResourceGroup, arm.Id, vmUser, ssh), vmMethod, script, CommandRunner.SyncTimeout(cli, parse.GetValue(timeout)), token).ConfigureAwait(false);
            if (outcome.State == SyncState.Failed)
            {
                throw new CliException(ExitCodes.SyncFailed, $"reading authorized_keys on {name} failed: {error ?? outcome.Message}. {advice}");
            }

            var report = BuildReport(name, vmUser, outcome, key);
            if (parse.GetValue(json))
            {
                await cli.Streams.Out.WriteLineAsync(JsonSerializer.Serialize(report, CliJsonContext.Output.StatusReport)).ConfigureAwait(false);
            }
            else
            {
                await cli.Streams.Out.WriteLineAsync($"{name}: user {vmUser}, home {report.Home ?? "?"}, {report.Keys.Count} key(s); Latch's key {(report.LatchKeyPresent ? "present" : "MISSING")}; latchd {(report.Agent ? "present" : "not installed")}").ConfigureAwait(false);
                foreach (var k in report.Keys)
                {
                    await cli.Streams.Out.WriteLineAsync($"  {(k.Managed ? "latch " : "other ")} {k.Type} {k.Fingerprint} {k.Comment ?? ""}{(k.Expiry is null ? "" : " expires " + k.Expiry)}").ConfigureAwait(false);
                }
            }

            return ExitCodes.Success;
        }, ct));
        return command;
    }

    internal static StatusReport BuildReport(string vm, string user, SyncOutcome outcome, KeyMaterial latchKey)
    {
        var content = string.IsNullOrEmpty(outcome.FileBase64) ? [] : Convert.FromBase64String(outcome.FileBase64);
        var agentText = string.IsNullOrEmpty(outcome.AgentBase64) ? "" : Encoding.UTF8.GetString(Convert.FromBase64String(outcome.AgentBase64));
        var agentKeys = AgentKeys(agentText, user);
        var document = AuthorizedKeysDocument.ParseOwned(content);
        var keys = document.Keys.Select(k => new StatusKey(
            k.Type,
            k.Sha256Fingerprint,
            k.Comment,
            Managed: k.Identity == latchKey.PublicKey.Identity || (k.Comment?.StartsWith("latch:", StringComparison.Ordinal) ?? false)
                || agentKeys.ContainsKey(k.Sha256Fingerprint),
            Expiry: k.Options.FirstOrDefault(o => o.Name.Equals("expiry-time", StringComparison.OrdinalIgnoreCase))?.Value
                ?? (agentKeys.TryGetValue(k.Sha256Fingerprint, out var expires) && expires != "never" ? expires : null),
            Options: k.OptionsText.Length > 0 ? k.OptionsText : null)).ToList();
        return new StatusReport(vm, user, outcome.Home, outcome.State == SyncState.Present, outcome.AgentBase64 is not null, keys);
    }

    /// <summary>
    /// The keys latchd manages for <paramref name="user"/>, fingerprint → expiry, from <c>latchd keys list</c>: a
    /// header, then tab-separated USER, FINGERPRINT, SOURCE, EXPIRES ("never" or "u" format), STATE ("valid",
    /// "expired", "not yet valid", or "retired …" for a key latchd is taking out, which it no longer manages).
    /// </summary>
    internal static Dictionary<string, string> AgentKeys(string listOutput, string user)
    {
        var keys = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in listOutput.Split('\n'))
        {
            var fields = line.TrimEnd('\r').Split('\t');
            if (fields.Length >= 5 && fields[0] == user && fields[1].StartsWith("SHA256:", StringComparison.Ordinal)
                && !fields[4].StartsWith("retired", StringComparison.Ordinal))
            {
                keys[fields[1]] = fields[3];
            }
        }

        return keys;
    }
}
