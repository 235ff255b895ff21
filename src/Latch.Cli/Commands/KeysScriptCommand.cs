using System.CommandLine;
using Latch.Cli.Azure;
using Latch.Cli.Keys;
using Latch.Cli.Sync;

namespace Latch.Cli.Commands;

/// <summary><c>latch keys script VM</c>: prints the exact script a sync would run on the VM, for review.</summary>
internal static class KeysScriptCommand
{
    public static Command Create(CliStreams streams, GlobalOptions globals)
    {
        var vm = new Argument<string>("VM") { Description = "VM name" };
        var user = SharedOptions.User();
        var group = SharedOptions.ResourceGroup();
        var identity = SharedOptions.IdentityFile();
        var publicKey = new Option<string?>("--public-key") { Description = "Public key file to embed (skips Key Vault)" };
        var mode = new Option<string>("--mode") { Description = "ensure | check | status | agent", DefaultValueFactory = _ => "ensure" };
        mode.AcceptOnlyFromAmong("ensure", "check", "status", "agent");
        var command = new Command("script", "Print the script that key sync runs on a VM, for review");
        command.Arguments.Add(vm);
        foreach (var option in (Option[])[user, group, identity, publicKey, mode])
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, ct) => CommandRunner.RunAsync(streams, globals, parse, async (cli, token) =>
        {
            var name = parse.GetValue(vm)!;
            var flagUser = parse.GetValue(user);
            KeyMaterial key;
            string userName;
            var keyFile = parse.GetValue(publicKey);
            var configuredUser = flagUser ?? cli.Config.VmString(name, "user") ?? cli.Config.GetString("ssh.user");
            if (keyFile is not null && configuredUser is not null)
            {
                key = new KeySource(cli, null, keyFile).GetLocal();
                userName = configuredUser;
            }
            else
            {
                using var azure = await AzureSession.CreateAsync(cli, token).ConfigureAwait(false);
                var keys = new KeySource(cli, azure, keyFile ?? parse.GetValue(identity));
                key = keyFile is not null ? keys.GetLocal() : await keys.GetAsync(name, token).ConfigureAwait(false);
                userName = configuredUser ?? CommandRunner.User(cli, null, name, await new VmResolver(cli, azure).ResolveAsync(name, parse.GetValue(group), token).ConfigureAwait(false));
            }

            var syncMode = parse.GetValue(mode) switch { "check" => SyncMode.Check, "status" => SyncMode.Status, "agent" => SyncMode.Agent, _ => SyncMode.Ensure };
            if (!SyncScript.TryCreate(syncMode, userName, key.PublicLine, null, 15, out var script, out var error))
            {
                throw new CliException(ExitCodes.UsageOrIo, error);
            }

            await cli.Streams.Out.WriteAsync(script).ConfigureAwait(false);
            return ExitCodes.Success;
        }, ct));
        return command;
    }
}
