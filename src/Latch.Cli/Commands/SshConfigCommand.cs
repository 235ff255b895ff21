using System.CommandLine;
using System.Text;
using Latch.Cli.Azure;
using Latch.Cli.Config;

namespace Latch.Cli.Commands;

/// <summary>
/// <c>latch ssh-config [VM…|--all]</c>: writes <c>~/.ssh/config.d/latch</c>, one Host block per VM, for
/// <c>Include ~/.ssh/config.d/latch</c> in ~/.ssh/config. Addresses are as of now: re-run after a VM is reallocated.
/// </summary>
internal static class SshConfigCommand
{
    public static Command Create(CliStreams streams, GlobalOptions globals)
    {
        var vms = new Argument<string[]>("VM") { Description = "VM names", Arity = ArgumentArity.ZeroOrMore };
        var all = new Option<bool>("--all") { Description = "Every Linux VM in the subscription (or in -g)" };
        var group = SharedOptions.ResourceGroup();
        var output = new Option<string?>("--output", "-o") { Description = "File to write (default ~/.ssh/config.d/latch; '-' prints it)" };
        var dryRun = SharedOptions.DryRun();
        var command = new Command("ssh-config", "Write an Include-able ssh config with a Host block per VM");
        command.Arguments.Add(vms);
        foreach (var option in (Option[])[all, group, output, dryRun])
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, ct) => CommandRunner.RunAsync(streams, globals, parse, async (cli, token) =>
        {
            var names = parse.GetValue(vms) ?? [];
            using var azure = await AzureSession.CreateAsync(cli, token).ConfigureAwait(false);
            var resolver = new VmResolver(cli, azure);
            var found = await KeysSyncCommand.ResolveAllAsync(cli, resolver, names, parse.GetValue(all) || names.Length == 0, parse.GetValue(group), 8, token).ConfigureAwait(false);
            var text = new StringBuilder();
            text.Append("# Written by 'latch ssh-config'; re-run it to refresh (addresses change when a VM is reallocated).\n");
            text.Append("# Use it from ~/.ssh/config with:  Include ~/.ssh/config.d/latch\n");
            foreach (var vm in found.OrderBy(v => v.Name, StringComparer.Ordinal))
            {
                if (!IsSafeHostAlias(vm.Name))
                {
                    cli.Warn($"skipping VM '{vm.Name}': its name is not usable as an ssh Host alias");
                    continue;
                }

                var addresses = await resolver.GetAddressesAsync(vm, token).ConfigureAwait(false);
                text.Append('\n').Append("Host ").Append(vm.Name).Append('\n');
                text.Append("    HostName ").Append(CommandRunner.Host(cli, addresses)).Append('\n');
                text.Append("    User ").Append(CommandRunner.User(cli, null, vm.Name, vm)).Append('\n');
                if (CommandRunner.Port(cli) != 22)
                {
                    text.Append("    Port ").Append(CommandRunner.Port(cli)).Append('\n');
                }

                if (cli.Config.GetString("ssh.identity_file") is { } identity)
                {
                    text.Append("    IdentityFile ").Append(identity).Append('\n');
                }
            }

            var path = parse.GetValue(output) ?? Path.Combine(cli.Paths.Home, ".ssh", "config.d", "latch");
            if (path == "-")
            {
                await cli.Streams.Out.WriteAsync(text.ToString()).ConfigureAwait(false);
                return ExitCodes.Success;
            }

            if (parse.GetValue(dryRun))
            {
                cli.Info($"dry run: would write {found.Count} Host block(s) to {path}");
                return ExitCodes.Success;
            }

            LatchPaths.WritePrivateFile(path, text.ToString());
            await cli.Streams.Out.WriteLineAsync($"wrote {found.Count} Host block(s) to {path}").ConfigureAwait(false);
            await cli.Streams.Out.WriteLineAsync("add this line near the top of ~/.ssh/config (once):  Include ~/.ssh/config.d/latch").ConfigureAwait(false);
            return ExitCodes.Success;
        }, ct));
        return command;
    }

    // ARM names are [A-Za-z0-9._-]; anything else (space, '*', '!') would change what the Host line matches
    private static bool IsSafeHostAlias(string name) => name.Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');
}
