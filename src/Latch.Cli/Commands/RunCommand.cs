using System.CommandLine;
using Latch.Azure;
using Latch.Cli.Azure;
using Latch.Cli.Interop;

namespace Latch.Cli.Commands;

/// <summary>
/// <c>latch run VM -- command…</c> or <c>--script FILE</c>: ARM run-command (RunShellScript, as root) with a live
/// elapsed-time line on a terminal; prints the remote stdout/stderr (Azure keeps the last 4 KiB of each) and exits
/// with the remote exit code.
/// </summary>
internal static class RunCommand
{
    public static Command Create(CliStreams streams, GlobalOptions globals)
    {
        var vm = new Argument<string>("VM") { Description = "VM name" };
        var words = new Argument<string[]>("COMMAND") { Description = "Shell command (after '--'), run with bash as root", Arity = ArgumentArity.ZeroOrMore };
        var script = new Option<string?>("--script") { Description = "Run this local script file instead" };
        var group = SharedOptions.ResourceGroup();
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for the result", DefaultValueFactory = _ => 300 };
        var dryRun = SharedOptions.DryRun();
        var command = new Command("run", "Run a command on a VM through ARM run-command and show its output and exit code");
        command.Arguments.Add(vm);
        command.Arguments.Add(words);
        foreach (var option in (Option[])[script, group, timeout, dryRun])
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, ct) => CommandRunner.RunAsync(streams, globals, parse, async (cli, token) =>
        {
            var name = parse.GetValue(vm)!;
            var text = parse.GetValue(script) is { } file
                ? await ReadScriptAsync(file, token).ConfigureAwait(false)
                : string.Join(' ', parse.GetValue(words) ?? []);
            if (string.IsNullOrWhiteSpace(text))
            {
                throw new CliException(ExitCodes.UsageOrIo, "give a command after '--' (latch run VM -- uptime) or --script FILE.");
            }

            using var azure = await AzureSession.CreateAsync(cli, token).ConfigureAwait(false);
            var arm = await new VmResolver(cli, azure).ResolveAsync(name, parse.GetValue(group), token).ConfigureAwait(false);
            if (parse.GetValue(dryRun))
            {
                cli.Info($"dry run: would run {text.Length} bytes of shell on {arm.Id} through ARM run-command");
                return ExitCodes.Success;
            }

            var started = cli.Time.GetTimestamp();
            using var ticker = new CancellationTokenSource();
            var live = !Console.IsErrorRedirected && Native.IsTerminal(2)
                ? Task.Run(async () =>
                {
                    while (!ticker.IsCancellationRequested)
                    {
                        cli.Streams.Error.Write($"\r\u001b[2Krunning on {name}… {cli.Time.GetElapsedTime(started).TotalSeconds:0} s");
                        await Task.Delay(TimeSpan.FromSeconds(1), cli.Time, ticker.Token).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
                    }

                    cli.Streams.Error.Write("\r\u001b[2K");
                }, CancellationToken.None)
                : Task.CompletedTask;
            RunCommandResult result;
            try
            {
                result = await azure.RunCommand.RunShellScriptAsync(arm.Id, [text], null, TimeSpan.FromSeconds(Math.Max(1, parse.GetValue(timeout))), token).ConfigureAwait(false);
            }
            catch (AzureRequestException e)
            {
                throw new CliException(ExitCodes.Azure, $"run-command on {name} failed: {e.Message.Split('\n')[0]}. {Sync.KeySyncer.AdviceFor(e)}", e);
            }
            finally
            {
                await ticker.CancelAsync().ConfigureAwait(false);
                await live.ConfigureAwait(false);
            }

            await cli.Streams.Out.WriteAsync(result.Stdout).ConfigureAwait(false);
            await cli.Streams.Error.WriteAsync(result.Stderr).ConfigureAwait(false);
            cli.Detail($"run-command on {name}: {result.Code} in {cli.Time.GetElapsedTime(started).TotalSeconds:0.0} s");
            return result.ExitCode ?? (result.Succeeded ? 0 : ExitCodes.Problems);
        }, ct));
        return command;
    }

    private static async Task<string> ReadScriptAsync(string file, CancellationToken cancellationToken)
    {
        try
        {
            return await File.ReadAllTextAsync(file, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException(ExitCodes.UsageOrIo, $"cannot read script {file}: {e.Message}", e);
        }
    }
}
