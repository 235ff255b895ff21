using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Runtime.InteropServices;
using Latch.Cli.Commands;

namespace Latch.Cli;

/// <summary>Builds latch's command tree and runs it. New commands are added in <see cref="BuildRoot"/>.</summary>
internal static class LatchCommandLine
{
    private static readonly TimeSpan s_terminationGrace = TimeSpan.FromSeconds(2);

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
            // signals are handled below, so the exit code says which one ended the command
            ProcessTerminationTimeout = null,
        };

        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var signalled = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnSignal(PosixSignalContext context)
        {
            // keep the process alive long enough for the command to stop cleanly
            context.Cancel = true;
            signalled.TrySetResult(context.Signal == PosixSignal.SIGINT ? ExitCodes.Interrupted : ExitCodes.Terminated);
            cancellation.Cancel();
        }

        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        var run = parseResult.InvokeAsync(configuration, cancellation.Token);
        if (await Task.WhenAny(run, signalled.Task).ConfigureAwait(false) == run && !signalled.Task.IsCompleted)
        {
            return await run.ConfigureAwait(false);
        }

        var code = await signalled.Task.ConfigureAwait(false);
        await streams.Error.WriteLineAsync(code == ExitCodes.Interrupted ? "latch: interrupted" : "latch: terminated").ConfigureAwait(false);
        // a command that ignores its token is abandoned after a grace period
        await Task.WhenAny(run, Task.Delay(s_terminationGrace, CancellationToken.None)).ConfigureAwait(false);
        return code;
    }
}
