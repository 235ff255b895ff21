using System.CommandLine;
using Latch.Cli.Commands;

namespace Latch.Cli;

/// <summary>Builds latch's command tree and runs it. New commands are added in <see cref="BuildRoot"/>.</summary>
internal static class LatchCommandLine
{
    public static RootCommand BuildRoot(CliStreams streams)
    {
        var keys = new Command("keys", "Inspect and manage authorized_keys files");
        keys.Subcommands.Add(KeysLintCommand.Create(streams));

        var root = new RootCommand("latch: keeps SSH access to Azure Linux VMs working and safe");
        root.Subcommands.Add(keys);
        return root;
    }

    public static async Task<int> RunAsync(string[] args, CliStreams streams, CancellationToken cancellationToken = default)
    {
        var parseResult = BuildRoot(streams).Parse(args);
        if (parseResult.Errors.Count > 0)
        {
            foreach (var error in parseResult.Errors)
            {
                await streams.Error.WriteLineAsync($"latch: {error.Message}").ConfigureAwait(false);
            }

            await streams.Error.WriteLineAsync("Run 'latch --help' for usage.").ConfigureAwait(false);
            return ExitCodes.UsageOrIo;
        }

        var configuration = new InvocationConfiguration
        {
            Output = streams.Out,
            Error = streams.Error,
            // SIGINT/SIGTERM cancel the command's token; a command still running after the grace period is
            // abandoned with 130 (SIGINT) or 143 (SIGTERM).
            ProcessTerminationTimeout = TimeSpan.FromSeconds(2),
        };
        return await parseResult.InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
    }
}
