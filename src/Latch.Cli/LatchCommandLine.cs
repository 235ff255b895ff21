using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using Latch.Cli.Commands;

namespace Latch.Cli;

/// <summary>Builds latch's command tree and runs it. New commands are added in <see cref="BuildRoot"/>.</summary>
internal static class LatchCommandLine
{
    public static RootCommand BuildRoot(CliStreams streams)
    {
        var globals = new GlobalOptions();
        var keys = new Command("keys", "Inspect and manage SSH keys on VMs and in Key Vault");
        keys.Subcommands.Add(KeysLintCommand.Create(streams));
        keys.Subcommands.Add(KeysSyncCommand.Create(streams, globals));
        keys.Subcommands.Add(KeysScriptCommand.Create(streams, globals));
        keys.Subcommands.Add(KeysGenerateCommand.Create(streams, globals));
        keys.Subcommands.Add(KeysRotateCommand.Create(streams, globals));
        keys.Subcommands.Add(KeysStatusCommand.Create(streams, globals));

        var root = new RootCommand("latch: keeps SSH access to Azure Linux VMs working and safe");
        globals.AddTo(root);
        root.Subcommands.Add(ConnectCommand.Create(streams, globals));
        root.Subcommands.Add(keys);
        root.Subcommands.Add(RunCommand.Create(streams, globals));
        root.Subcommands.Add(SshConfigCommand.Create(streams, globals));
        root.Subcommands.Add(VmListCommand.Create(streams, globals));
        root.Subcommands.Add(AuditCommand.Create(streams, globals));
        root.Subcommands.Add(ConfigCommand.Create(streams, globals));
        root.Subcommands.Add(DoctorCommand.Create(streams, globals));
        AddEpilogue(root);
        return root;
    }

    /// <summary>The root's help ends with the exit codes and where configuration lives.</summary>
    private static void AddEpilogue(RootCommand root)
    {
        var help = root.Options.OfType<HelpOption>().FirstOrDefault();
        if (help?.Action is HelpAction original)
        {
            help.Action = new EpilogueHelpAction(original);
        }
    }

    private sealed class EpilogueHelpAction(HelpAction inner) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            var code = inner.Invoke(parseResult);
            if (parseResult.CommandResult.Command is RootCommand)
            {
                parseResult.InvocationConfiguration.Output.WriteLine(ExitCodes.Epilogue);
            }

            return code;
        }
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
