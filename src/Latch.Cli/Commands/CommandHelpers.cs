using System.CommandLine;
using Latch.Azure;
using Latch.Cli.Azure;
using Latch.Cli.Config;
using Latch.Cli.Sync;

namespace Latch.Cli.Commands;

/// <summary>The global options, shared by every command (Recursive, so they work after the subcommand too).</summary>
internal sealed class GlobalOptions
{
    public Option<string?> Emulator { get; } = new("--emulator") { Description = "latch-emulator control URL (also LATCH_EMULATOR): talk to the emulator instead of Azure", Recursive = true };
    public Option<string?> Subscription { get; } = new("--subscription") { Description = "Azure subscription id (also AZURE_SUBSCRIPTION_ID or azure.subscription)", Recursive = true };
    public Option<bool> Verbose { get; } = new("--verbose", "-v") { Description = "Show each HTTP request with its timing, and more detail", Recursive = true };

    public void AddTo(Command root)
    {
        root.Options.Add(Emulator);
        root.Options.Add(Subscription);
        root.Options.Add(Verbose);
    }
}

/// <summary>Options several commands share, created per command (an option belongs to one command).</summary>
internal static class SharedOptions
{
    public static Option<string?> ResourceGroup() => new("--resource-group", "-g") { Description = "Resource group of the VM(s)" };

    public static Option<string?> User() => new("--user", "-u") { Description = "Login user on the VM (default: ssh.user, else the VM's admin user)" };

    public static Option<string?> SyncMethod()
    {
        var option = new Option<string?>("--sync-method") { Description = "How to put the key on the VM: auto | agent | run-command | ssh | skip" };
        option.AcceptOnlyFromAmong(LatchConfig.SyncMethods);
        return option;
    }

    public static Option<int?> SyncTimeout() => new("--sync-timeout") { Description = "Seconds allowed for one key sync (default: ssh.sync_timeout, 30)" };

    public static Option<bool> DryRun() => new("--dry-run") { Description = "Print every action and change nothing" };

    public static Option<bool> Json() => new("--json") { Description = "Print JSON for machines" };

    public static Option<string?> IdentityFile() => new("--identity-file", "-i") { Description = "Local key to use when Key Vault has none (private key path; its .pub is synced)" };
}

/// <summary>Runs a command body with a context, turning expected failures into messages and exit codes.</summary>
internal static class CommandRunner
{
    public static async Task<int> RunAsync(CliStreams streams, GlobalOptions globals, ParseResult parse, Func<CliContext, CancellationToken, Task<int>> body, CancellationToken cancellationToken)
    {
        CliContext? context = null;
        try
        {
            context = CreateContext(streams, parse.GetValue(globals.Emulator), parse.GetValue(globals.Subscription), parse.GetValue(globals.Verbose));
            return await body(context, cancellationToken).ConfigureAwait(false);
        }
        catch (CliException e)
        {
            if (e.InnerException is AzureRequestException { Status: 401 } && context is not null && File.Exists(context.Paths.SessionCache))
            {
                // a cached token the service no longer accepts (revoked, role removed): sign in afresh next time
                File.Delete(context.Paths.SessionCache);
                await streams.Error.WriteLineAsync("latch: " + e.Message + " (latch dropped its cached tokens; run the command again)").ConfigureAwait(false);
                return e.ExitCode;
            }

            await streams.Error.WriteLineAsync("latch: " + e.Message).ConfigureAwait(false);
            return e.ExitCode;
        }
        catch (ConfigException e)
        {
            await streams.Error.WriteLineAsync("latch: " + e.Message).ConfigureAwait(false);
            return ExitCodes.Config;
        }
        catch (AzureRequestException e)
        {
            var cli = VmResolver.Describe(e);
            await streams.Error.WriteLineAsync("latch: " + cli.Message).ConfigureAwait(false);
            return cli.ExitCode;
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            // an HttpClient deadline: say so instead of dying with exit 1 and no word
            await streams.Error.WriteLineAsync($"latch: a request to Azure timed out ({e.Message}); check the network and retry (--verbose shows each request's timing)").ConfigureAwait(false);
            return ExitCodes.Azure;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await streams.Error.WriteLineAsync("latch: interrupted").ConfigureAwait(false);
            return ExitCodes.Interrupted;
        }
    }

    public static CliContext CreateContext(CliStreams streams, string? emulator, string? subscription, bool verbose)
    {
        Func<string, string?> env = Environment.GetEnvironmentVariable;
        var paths = LatchPaths.FromEnvironment(env);
        var config = LatchConfig.Load(paths.ConfigFile);
        return new CliContext(streams, env, TimeProvider.System, paths, config)
        {
            EmulatorFlag = emulator,
            SubscriptionFlag = subscription,
            Verbose = verbose,
            Interactive = ReferenceEquals(streams.Out, Console.Out) && !Console.IsOutputRedirected && Interop.Native.IsTerminal(1),
        };
    }

    public static AuditLog Audit(CliContext cli) => new(cli.Paths.AuditLog);

    /// <summary>Flag, then [vm.NAME], then [ssh], then the default.</summary>
    public static string Method(CliContext cli, string? flag, string vm) =>
        flag ?? cli.Config.VmString(vm, "sync_method") ?? cli.Config.GetString("ssh.sync_method") ?? KeySyncer.Auto;

    public static TimeSpan SyncTimeout(CliContext cli, int? flag) => TimeSpan.FromSeconds(Math.Max(1, flag ?? cli.Config.GetInt("ssh.sync_timeout") ?? 30));

    public static string User(CliContext cli, string? flag, string vm, ArmVirtualMachine? arm) => User(cli, flag, vm, arm?.AdminUsername);

    public static string User(CliContext cli, string? flag, string vm, string? adminUsername) =>
        flag ?? cli.Config.VmString(vm, "user") ?? cli.Config.GetString("ssh.user") ?? adminUsername ?? cli.Environment("USER") ?? "azureuser";

    public static int Port(CliContext cli) => cli.Config.GetInt("ssh.port") is { } port and > 0 and < 65536 ? port : 22;

    public static string Host(CliContext cli, ArmVmAddresses addresses) =>
        cli.Config.GetBool("ssh.use_private_ip") == true ? addresses.PrivateIpAddress : addresses.PublicIpAddress ?? addresses.PrivateIpAddress;
}
