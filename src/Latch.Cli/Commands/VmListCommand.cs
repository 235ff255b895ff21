using System.CommandLine;
using System.Text.Json;
using Latch.Cli.Azure;

namespace Latch.Cli.Commands;

/// <summary><c>latch vm list [-g RG] [--json]</c>.</summary>
internal static class VmListCommand
{
    public static Command Create(CliStreams streams, GlobalOptions globals)
    {
        var group = SharedOptions.ResourceGroup();
        var json = SharedOptions.Json();
        var list = new Command("list", "List the VMs latch can see");
        list.Options.Add(group);
        list.Options.Add(json);
        list.SetAction((parse, ct) => CommandRunner.RunAsync(streams, globals, parse, async (cli, token) =>
        {
            using var azure = await AzureSession.CreateAsync(cli, token).ConfigureAwait(false);
            var vms = await new VmResolver(cli, azure).ListAsync(parse.GetValue(group), token).ConfigureAwait(false);
            var entries = vms.OrderBy(v => v.ResourceGroup, StringComparer.OrdinalIgnoreCase).ThenBy(v => v.Name, StringComparer.OrdinalIgnoreCase)
                .Select(v => new VmListEntry(v.Name, v.ResourceGroup, v.Location, v.VmSize, v.OsType, v.AdminUsername, v.PowerState)).ToList();
            if (parse.GetValue(json))
            {
                await cli.Streams.Out.WriteLineAsync(JsonSerializer.Serialize(entries, CliJsonContext.Output.ListVmListEntry)).ConfigureAwait(false);
                return ExitCodes.Success;
            }

            await cli.Streams.Out.WriteLineAsync("NAME\tRESOURCE_GROUP\tLOCATION\tSIZE\tOS\tADMIN").ConfigureAwait(false);
            foreach (var e in entries)
            {
                await cli.Streams.Out.WriteLineAsync($"{e.Name}\t{e.ResourceGroup}\t{e.Location}\t{e.Size}\t{e.Os}\t{e.AdminUser}").ConfigureAwait(false);
            }

            return ExitCodes.Success;
        }, ct));
        var vm = new Command("vm", "VMs");
        vm.Subcommands.Add(list);
        return vm;
    }
}
