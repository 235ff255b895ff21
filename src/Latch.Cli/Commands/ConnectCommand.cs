using System.CommandLine;
using System.Text;
using Latch.Cli.Azure;
using Latch.Cli.Interop;
using Latch.Cli.Keys;
using Latch.Cli.Ssh;
using Latch.Cli.Sync;

namespace Latch.Cli.Commands;

/// <summary>
/// <c>latch connect VM [-- ssh args…]</c>: resolve the VM, get its key (Key Vault, else local), make sure the VM's
/// authorized_keys has it (one round trip), wait for sshd, then exec the system ssh so the user's ssh config and
/// agent keep working. A failed sync warns with advice and still connects; ssh's exit code is latch's.
/// </summary>
internal static class ConnectCommand
{
    public static Command Create(CliStreams streams, GlobalOptions globals)
    {
        var vm = new Argument<string>("VM") { Description = "VM name" };
        var sshArgs = new Argument<string[]>("SSH_ARGS") { Description = "Passed to ssh after '--': options, then an optional remote command", Arity = ArgumentArity.ZeroOrMore };
        var group = SharedOptions.ResourceGroup();
        var user = SharedOptions.User();
        var noSync = new Option<bool>("--no-auto-sync-keys") { Description = "Do not sync the key before connecting" };
        var method = SharedOptions.SyncMethod();
        var syncTimeout = SharedOptions.SyncTimeout();
        var connectTimeout = new Option<int?>("--connect-timeout") { Description = "Seconds to wait for SSH while the VM boots (default: ssh.connect_timeout, 120)" };
        var dryRun = SharedOptions.DryRun();
        var identity = SharedOptions.IdentityFile();

        var command = new Command("connect", "Sync your key to a VM if needed, wait for SSH, and exec ssh");
        command.Arguments.Add(vm);
        command.Arguments.Add(sshArgs);
        foreach (var option in (Option[])[group, user, noSync, method, syncTimeout, connectTimeout, dryRun, identity])
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, ct) => CommandRunner.RunAsync(streams, globals, parse, (cli, token) => RunAsync(cli, new ConnectRequest(
            parse.GetValue(vm)!, parse.GetValue(group), parse.GetValue(user), parse.GetValue(noSync), parse.GetValue(method),
            parse.GetValue(syncTimeout), parse.GetValue(connectTimeout), parse.GetValue(dryRun), parse.GetValue(identity), parse.GetValue(sshArgs) ?? []), token), ct));
        return command;
    }

    internal sealed record ConnectRequest(
        string Vm, string? ResourceGroup, string? User, bool NoAutoSync, string? Method, int? SyncTimeout, int? ConnectTimeout, bool DryRun, string? IdentityFile, IReadOnlyList<string> SshArgs);

    public static async Task<int> RunAsync(CliContext cli, ConnectRequest request, CancellationToken cancellationToken)
    {
        var started = cli.Time.GetTimestamp();
        var autoSync = !request.NoAutoSync && (cli.Config.VmBool(request.Vm, "auto_sync_keys") ?? cli.Config.GetBool("ssh.auto_sync_keys") ?? true);
        var method = CommandRunner.Method(cli, request.Method, request.Vm);
        var syncTimeout = CommandRunner.SyncTimeout(cli, request.SyncTimeout);
        var connectTimeout = TimeSpan.FromSeconds(Math.Max(0, request.ConnectTimeout ?? cli.Config.GetInt("ssh.connect_timeout") ?? 120));
        var split = SshArguments.Split(request.SshArgs);

        // the key check over ssh starts now, at the last connect's address, while ARM and Key Vault are asked (see EarlyCheck)
        var early = autoSync && method is KeySyncer.Auto or KeySyncer.Ssh && !request.DryRun
            ? EarlyCheck.TryStart(cli, request.Vm, request.ResourceGroup, request.User, new KeySource(cli, null, request.IdentityFile), split.Options, syncTimeout)
            : null;
        await using var earlyScope = EarlyCheck.Scope(early).ConfigureAwait(false);
        using var azure = await AzureSession.CreateAsync(cli, cancellationToken).ConfigureAwait(false);
        var resolver = new VmResolver(cli, azure);
        var keys = new KeySource(cli, azure, request.IdentityFile);

        // the VM and the key are independent: fetch them at the same time
        var keyTask = keys.GetAsync(request.Vm, cancellationToken);
        var (vm, addresses) = await resolver.ResolveWithAddressesAsync(request.Vm, request.ResourceGroup, cancellationToken).ConfigureAwait(false);
        if (vm.PowerState is { } power && power != "running")
        {
            cli.Warn($"VM '{vm.Name}' is {power}; start it first (az vm start -g {vm.ResourceGroup} -n {vm.Name}). Trying anyway.");
        }

        KeyMaterial? key;
        try
        {
            key = await keyTask.ConfigureAwait(false);
        }
        catch (CliException e) when (e.ExitCode == ExitCodes.NotFound && !autoSync)
        {
            key = null; // no key of ours: ssh uses the user's own config and agent
        }

        var host = CommandRunner.Host(cli, addresses);
        var user = CommandRunner.User(cli, request.User, request.Vm, vm);
        var memoryKey = -1;
        string? identityPath = key?.IdentityFile;
        if (key?.PrivateKey is { } privateKey && !request.DryRun)
        {
            memoryKey = Native.CreateMemoryFile("latch-key", Encoding.UTF8.GetBytes(privateKey.Reveal()));
            identityPath = Native.MemoryFilePath(memoryKey);
        }
        else if (key?.PrivateKey is not null)
        {
            identityPath = "(Key Vault private key, held in memory)";
        }

        try
        {
            var target = new SshTarget(host, CommandRunner.Port(cli), user, identityPath, split.Options);
            SshControl? shared = null;
            if (autoSync && key is not null && method != KeySyncer.Skip)
            {
                var syncer = new KeySyncer(cli, azure, CommandRunner.Audit(cli));
                var syncTarget = new SyncTarget(vm.Name, vm.ResourceGroup, vm.Id, user, target);
                SyncResult result;
                if (early is not null && await early.AdoptAsync(target, key, cancellationToken).ConfigureAwait(false) is { } checkedEarly)
                {
                    shared = early.Control;
                    result = syncer.Record(syncTarget, key, checkedEarly.Outcome.State, KeySyncer.Ssh, checkedEarly.Duration, "connect");
                }
                else
                {
                    // a key sync over ssh logs in anyway: keep that connection for the session (see SshControl)
                    var control = method is KeySyncer.Auto or KeySyncer.Ssh && !request.DryRun ? SshControl.ForThisRun(cli) : null;
                    var syncSsh = control is null ? target : target with { UserOptions = [.. control.MasterOptions, .. target.UserOptions] };
                    result = await syncer.SyncAsync(syncTarget with { Ssh = syncSsh }, key, method, syncTimeout, request.DryRun, "connect", cancellationToken).ConfigureAwait(false);
                    if (result.Succeeded && result.Method == KeySyncer.Ssh)
                    {
                        shared = control;
                    }
                }

                if (result.Succeeded && !request.DryRun && method is KeySyncer.Auto or KeySyncer.Ssh)
                {
                    resolver.RememberConnect(vm, host, key, early?.HostKeyRefused == true);
                }

                if (!result.Succeeded)
                {
                    cli.Warn($"key sync on {vm.Name} via {result.Method} failed: {result.Error}");
                    if (result.Advice is not null)
                    {
                        cli.Warn(result.Advice);
                    }

                    cli.Warn("connecting anyway");
                }
                else if (!request.DryRun)
                {
                    cli.Detail($"key {key.Fingerprint} {result.StateName} on {vm.Name} via {result.Method} in {result.Duration.TotalMilliseconds:0} ms");
                }
            }

            var arguments = (shared is null ? target : target with { UserOptions = [.. shared.ClientOptions, .. target.UserOptions] }).BaseArguments();
            arguments.Add(target.Destination);
            arguments.AddRange(split.Command);
            if (request.DryRun)
            {
                cli.Info($"dry run: would wait up to {connectTimeout.TotalSeconds:0} s for SSH on {host}:{target.Port}, then exec: {cli.SshProgram} {string.Join(' ', arguments.Select(Quote))}");
                return ExitCodes.Success;
            }

            // sshd just ran the key check for us when the connection is shared: no need to probe it again
            var runner = new SshRunner(cli.SshProgram, cli.Time);
            var down = shared is not null ? null : await runner.WaitAsync(host, target.Port, connectTimeout, Countdown(cli), cancellationToken).ConfigureAwait(false);
            EndCountdown(cli);
            if (down is not null)
            {
                await cli.Streams.Error.WriteLineAsync($"latch: SSH on {host}:{target.Port} did not answer within {connectTimeout.TotalSeconds:0} s ({down}). Is the VM running and port {target.Port} open to you? Raise --connect-timeout for slow boots.").ConfigureAwait(false);
                return ExitCodes.SshUnreachable;
            }

            cli.Detail($"connect overhead before exec: {cli.Time.GetElapsedTime(started).TotalMilliseconds:0} ms");
            if (memoryKey >= 0)
            {
                // the key lives in this process's memfd: stay alive as ssh's parent until it is done (exec would close it)
                return await SshRunner.RunAttachedAsync(cli.SshProgram, arguments, cancellationToken).ConfigureAwait(false);
            }

            var error = Native.Exec(cli.SshProgram, arguments);
            await cli.Streams.Error.WriteLineAsync($"latch: cannot run '{cli.SshProgram}': {error}. Install the OpenSSH client or set ssh.program.").ConfigureAwait(false);
            return ExitCodes.SshExecFailed;
        }
        finally
        {
            if (memoryKey >= 0)
            {
                Native.Close(memoryKey);
            }
        }
    }

    private static Action<string, bool> Countdown(CliContext cli)
    {
        if (!Console.IsErrorRedirected && Native.IsTerminal(2))
        {
            return (line, _) => cli.Streams.Error.Write("\r\u001b[2K" + line);
        }

        // piped: one line per retry, not one per second
        return (line, newAttempt) =>
        {
            if (newAttempt)
            {
                cli.Info(line);
            }
        };
    }

    private static void EndCountdown(CliContext cli)
    {
        if (!Console.IsErrorRedirected && Native.IsTerminal(2))
        {
            cli.Streams.Error.Write("\r\u001b[2K");
        }
    }

    internal static string Quote(string argument) =>
        argument.Length > 0 && argument.All(c => char.IsAsciiLetterOrDigit(c) || "@%+=:,./-_".Contains(c, StringComparison.Ordinal))
            ? argument
            : "'" + argument.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
