using System.CommandLine;
using Latch.Agent.Config;
using Latch.Agent.Daemon;
using Latch.Agent.Logging;
using Latch.Agent.Os;
using Latch.Agent.Provisioning;
using Microsoft.Extensions.Logging;

namespace Latch.Agent;

/// <summary>Where latchd reads and writes, so tests run commands in-process.</summary>
internal sealed record AgentStreams(TextReader In, TextWriter Out, TextWriter Error);

/// <summary>latchd's command tree: provision, run, deprovision. Exit codes: 0 done, 1 failed or refused, 2 bad usage or configuration.</summary>
internal static class AgentCommandLine
{
    public const int Success = 0;
    public const int Failed = 1;
    public const int Usage = 2;

    public static RootCommand BuildRoot(AgentStreams streams, TimeProvider? time = null)
    {
        time ??= TimeProvider.System;
        var config = new Option<string?>("--config") { Description = "Configuration file (default /etc/latch/latchd.toml, else /etc/waagent.conf)", Recursive = true };
        var root = new Option<string>("--root") { Description = "Manage the system under DIR (an image or a sandbox); programs run chrooted into it", DefaultValueFactory = _ => "/", Recursive = true };
        var imds = new Option<string?>("--imds") { Description = "IMDS base URL (default http://169.254.169.254)", Recursive = true };
        var wireServer = new Option<string?>("--wireserver") { Description = "WireServer base URL (default http://168.63.129.16)", Recursive = true };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log debug messages (every program run)", Recursive = true };

        var dryRun = new Option<bool>("--dry-run") { Description = "Print the plan and change nothing (no mount, no write, no health report)" };
        var ovfEnv = new Option<string?>("--ovf-env") { Description = "With --dry-run: read ovf-env.xml from FILE" };
        var imdsJson = new Option<string?>("--imds-json") { Description = "With --dry-run: read the IMDS instance document from FILE instead of IMDS" };
        var readyOnly = new Option<bool>("--ready-only") { Description = "Only report Ready (what 'latchd run' does when Provisioning.Agent is disabled or cloud-init)", Hidden = true };
        var provision = new Command("provision", "Provision this VM from IMDS and ovf-env.xml, then report Ready (or NotReady naming the failed step)");
        provision.Options.Add(dryRun);
        provision.Options.Add(readyOnly);
        provision.Options.Add(ovfEnv);
        provision.Options.Add(imdsJson);
        provision.SetAction((parse, ct) => WithContext(parse, streams, time, requireRoot: !parse.GetValue(dryRun), async context =>
        {
            if (!parse.GetValue(dryRun) && (parse.GetValue(ovfEnv) is not null || parse.GetValue(imdsJson) is not null))
            {
                await streams.Error.WriteLineAsync("latchd: --ovf-env and --imds-json go with --dry-run; for a real run set Latch.OvfEnvPath in the configuration").ConfigureAwait(false);
                return Usage;
            }

            if (parse.GetValue(dryRun))
            {
                return await new DryRun(context.System, context.Config, () => context.CreateClients(TimeSpan.FromSeconds(30)))
                    .RunAsync(parse.GetValue(imdsJson), parse.GetValue(ovfEnv), streams.Out, ct).ConfigureAwait(false);
            }

            using var clients = context.CreateClients(null);
            return await new Provisioner(context.System, context.Config, clients, time).ProvisionAsync(parse.GetValue(readyOnly), ct).ConfigureAwait(false);
        }));

        var run = new Command("run", "Run as the latchd service: provision when needed, report Ready, notify systemd, wait for SIGTERM");
        run.SetAction((parse, ct) => WithContext(parse, streams, time, requireRoot: true, async context =>
        {
            using var clients = context.CreateClients(null);
            return await new AgentDaemon(context.System, context.Config, clients, SystemdNotifier.FromEnvironment(), time)
                .RunAsync(parse.GetValue(verbose), ct).ConfigureAwait(false);
        }));

        var user = new Option<bool>("--user") { Description = "Also delete the provisioned user, its home and its sudoers drop-in" };
        var force = new Option<bool>("--force") { Description = "Do not ask for confirmation" };
        var deprovision = new Command("deprovision", "Remove host keys, latchd's marker and state, the host name and DHCP leases (waagent -deprovision)");
        deprovision.Options.Add(user);
        deprovision.Options.Add(force);
        deprovision.SetAction((parse, ct) => WithContext(parse, streams, time, requireRoot: true, context =>
            new Deprovisioner(context.System, context.Config).RunAsync(parse.GetValue(user), parse.GetValue(force), streams.In, streams.Out, ct)));

        var command = new RootCommand("latchd: provisions Azure Linux VMs (a small drop-in for waagent's provisioning) and keeps SSH access safe");
        foreach (var option in new Option[] { config, root, imds, wireServer, verbose })
        {
            command.Options.Add(option);
        }

        command.Subcommands.Add(provision);
        command.Subcommands.Add(run);
        command.Subcommands.Add(deprovision);
        Commands.GuardCommands.AddTo(command);
        return command;

        async Task<int> WithContext(ParseResult parse, AgentStreams s, TimeProvider clock, bool requireRoot, Func<AgentContext, Task<int>> action)
        {
            var logger = StderrLogger.Create(parse.GetValue(verbose), s.Error);
            var rootDirectory = parse.GetValue(root) ?? "/";
            if (requireRoot && Interop.Libc.GetEffectiveUserId() != 0)
            {
                await s.Error.WriteLineAsync("latchd: this command changes accounts and system files and must run as root").ConfigureAwait(false);
                return Failed;
            }

            if (!Directory.Exists(rootDirectory))
            {
                await s.Error.WriteLineAsync($"latchd: --root {rootDirectory}: no such directory").ConfigureAwait(false);
                return Usage;
            }

            AgentConfig settings;
            try
            {
                settings = ConfigLoader.Load(parse.GetValue(config), rootDirectory);
            }
            catch (ConfigException e)
            {
                await s.Error.WriteLineAsync("latchd: " + e.Message).ConfigureAwait(false);
                return Usage;
            }

            Uri? imdsUrl = null, wireServerUrl = null;
            foreach (var (option, value) in new[] { ("--imds", parse.GetValue(imds)), ("--wireserver", parse.GetValue(wireServer)) })
            {
                if (value is null)
                {
                    continue;
                }

                if (!Uri.TryCreate(value, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
                {
                    await s.Error.WriteLineAsync($"latchd: {option} {value}: not an http:// or https:// URL").ConfigureAwait(false);
                    return Usage;
                }

                (imdsUrl, wireServerUrl) = option == "--imds" ? (url, wireServerUrl) : (imdsUrl, url);
            }

            settings = settings with
            {
                ImdsUrl = imdsUrl ?? settings.ImdsUrl,
                WireServerUrl = wireServerUrl ?? settings.WireServerUrl,
            };
            Log.ConfigSource(logger, settings.Source ?? "built-in defaults (no /etc/latch/latchd.toml or /etc/waagent.conf)");
            if (settings.Ignored.Count > 0)
            {
                Log.IgnoredKeys(logger, settings.Source!, string.Join(", ", settings.Ignored));
            }

            return await action(new AgentContext(new HostSystem(rootDirectory, logger), settings, logger, clock)).ConfigureAwait(false);
        }
    }

    public static async Task<int> RunAsync(string[] args, AgentStreams streams, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        var parseResult = BuildRoot(streams, time).Parse(args);
        if (parseResult.Errors.Count > 0)
        {
            foreach (var error in parseResult.Errors)
            {
                await streams.Error.WriteLineAsync($"latchd: {error.Message}").ConfigureAwait(false);
            }

            await streams.Error.WriteLineAsync("Run 'latchd --help' for usage.").ConfigureAwait(false);
            return Usage;
        }

        var configuration = new InvocationConfiguration
        {
            Output = streams.Out,
            Error = streams.Error,
            // the daemon handles SIGTERM itself (clean stop, STOPPING=1); other commands stop at their next await
            ProcessTerminationTimeout = null,
            // handled below, the same way except for a bad guard configuration
            EnableDefaultExceptionHandler = false,
        };
        try
        {
            return await parseResult.InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
        }
        catch (Guard.GuardConfigException e)
        {
            // the guard, keys and status commands load [guard]/[keyvault] inside their actions: a bad file is a usage
            // error with the file's own message, not a stack trace
            await streams.Error.WriteLineAsync("latchd: " + e.Message).ConfigureAwait(false);
            return Usage;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // what System.CommandLine's default handler does: the whole exception on stderr, exit 1
            await streams.Error.WriteLineAsync("latchd: unexpected error: " + e).ConfigureAwait(false);
            return 1;
        }
        catch (OperationCanceledException)
        {
            return 1;
        }
    }
}

/// <summary>What every command works with: the managed system, the settings, the logger and the clock.</summary>
internal sealed record AgentContext(HostSystem System, AgentConfig Config, ILogger Logger, TimeProvider Time)
{
    public AgentClients CreateClients(TimeSpan? imdsDeadline) => AgentClients.Create(Config, Logger, Time, imdsDeadline);
}
