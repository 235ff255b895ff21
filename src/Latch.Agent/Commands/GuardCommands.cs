using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Latch.Agent.Guard;
using Latch.Agent.Guard.Install;
using Latch.Agent.KeyStore;
using Microsoft.Extensions.Logging;

namespace Latch.Agent.Commands;

/// <summary>The key-guard commands (guard, keys, authorized-keys); <see cref="AddTo"/> is the one hook in Program.</summary>
internal static class GuardCommands
{
    public static void AddTo(RootCommand root)
    {
        ArgumentNullException.ThrowIfNull(root);
        // the root's recursive --config (latchd's one configuration file) serves these commands too
        s_shared = root.Options.OfType<Option<string?>>().FirstOrDefault(o => o.Name == "--config" && o.Recursive);
        root.Subcommands.Add(AuthorizedKeysCommands.Create());
        root.Subcommands.Add(CreateGuard());
        root.Subcommands.Add(KeysCommands.Create());
        root.Subcommands.Add(StatusCommand.Create(ConfigOption()));
    }

    private static Option<string?>? s_shared;

    /// <summary>The root's recursive --config when there is one (then not added again), else an option of its own.</summary>
    internal static Option<string?> ConfigOption() => s_shared ?? new("--config") { Description = $"Configuration file (default {GuardConfig.DefaultPath})" };

    /// <summary>Adds <paramref name="option"/> unless it is the root's recursive --config, which every subcommand already has.</summary>
    internal static void AddConfig(Command command, Option<string?> option)
    {
        if (!ReferenceEquals(option, s_shared))
        {
            command.Options.Add(option);
        }
    }

    private static Command CreateGuard()
    {
        var guard = new Command("guard", "Keep Latch-managed SSH keys working whatever else rewrites authorized_keys");
        var quiet = new Option<bool>("--quiet-others") { Description = "Also stop cloud-init and waagent from writing keys (reversible; uninstall restores them)" };
        var binary = new Option<string>("--binary") { Description = "Absolute path of the AuthorizedKeysCommand for sshd to run (latch-akc, or latchd)", DefaultValueFactory = _ => new GuardLayout().Binary };
        var config = ConfigOption();

        var install = new Command("install", "Install the sshd AuthorizedKeysCommand drop-in (validated with sshd -t, rolled back on failure)");
        install.Options.Add(quiet);
        install.Options.Add(binary);
        AddConfig(install, config);
        install.SetAction((parse, ct) => new GuardInstaller(Layout(parse.GetValue(config), parse.GetValue(binary)), Console.Out).InstallAsync(parse.GetValue(quiet), ct));

        var uninstall = new Command("uninstall", "Remove the drop-in and restore what --quiet-others changed");
        AddConfig(uninstall, config);
        uninstall.SetAction((parse, ct) => new GuardInstaller(Layout(parse.GetValue(config), null), Console.Out).UninstallAsync(ct));

        var status = new Command("status", "Show the guard modes, the other key writers on this VM and the managed keys");
        AddConfig(status, config);
        status.SetAction((parse, ct) => StatusAsync(parse.GetValue(config), ct));

        var watch = new Command("watch", "Run the file guard (and the Key Vault pull, when configured) in the foreground");
        AddConfig(watch, config);
        watch.SetAction((parse, ct) => WatchAsync(parse.GetValue(config), ct));

        guard.Subcommands.Add(install);
        guard.Subcommands.Add(uninstall);
        guard.Subcommands.Add(status);
        guard.Subcommands.Add(watch);
        return guard;
    }

    internal static GuardConfig LoadConfig(string? path) => GuardConfig.Load(path);

    private static GuardLayout Layout(string? configPath, string? binary)
    {
        var config = LoadConfig(configPath);
        var layout = new GuardLayout { StoreDir = config.StoreDirectory };
        return binary is null ? layout : layout with { Binary = binary };
    }

    private static async Task<int> WatchAsync(string? configPath, CancellationToken cancellationToken)
    {
        var config = LoadConfig(configPath);
        var logger = Logging.StderrLogger.Create(LogLevel.Information);
        using var service = new GuardService(config, logger, TimeProvider.System);
        var ready = new TaskCompletionSource();
        var run = service.RunAsync(cancellationToken, ready);
        await Task.WhenAny(ready.Task, run).ConfigureAwait(false);
        await Console.Error.WriteLineAsync("<6>guard: ready").ConfigureAwait(false);

        // like latchd run: once the first pass is over the guard mostly waits, so give back what start-up used
        _ = Daemon.IdleTrim.Start(logger, cancellationToken);
        await run.ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> StatusAsync(string? configPath, CancellationToken cancellationToken)
    {
        var config = LoadConfig(configPath);
        var layout = new GuardLayout { StoreDir = config.StoreDirectory };
        var output = Console.Out;
        var installer = new GuardInstaller(layout, output);
        var effective = await installer.EffectiveAsync(cancellationToken).ConfigureAwait(false);
        var akcActive = effective.Command == layout.CommandLine;
        await output.WriteLineAsync($"AuthorizedKeysCommand: {(akcActive ? "active" : File.Exists(layout.DropInPath) ? "installed but NOT active" : "not installed")}"
            + $" (sshd: {effective.Command ?? effective.Error ?? "none"}, user {effective.CommandUser ?? "-"})").ConfigureAwait(false);

        var answer = await ControlSocket.RequestAsync(config.Socket, "status", TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
        var status = answer is null ? null : JsonSerializer.Deserialize(answer, GuardStatusJsonContext.Default.GuardServiceStatus);
        if (status is null)
        {
            await output.WriteLineAsync($"file guard: not running (no daemon at {config.Socket})").ConfigureAwait(false);
        }
        else
        {
            var g = status.FileGuard;
            await output.WriteLineAsync($"file guard: {g.Mode}, {g.Users} user(s), {g.Watches} watch(es), {g.Restores} restore(s), {g.Refusals} refusal(s)"
                + (g.FallbackReason is null ? "" : $"; polling every {config.Watch.PollInterval.TotalSeconds:0} s for {string.Join(", ", g.PolledUsers)} because {g.FallbackReason}")).ConfigureAwait(false);
        }

        await output.WriteLineAsync(KeyVaultLine(config, status)).ConfigureAwait(false);

        var store = new KeyStoreFiles(config.StoreDirectory);
        var total = 0;
        foreach (var user in store.Users())
        {
            var read = store.Read(user);
            total += read.Document?.Keys.Count ?? 0;
            if (read.Document is null)
            {
                await output.WriteLineAsync($"managed keys of {user}: UNUSABLE: {read.Problem}").ConfigureAwait(false);
            }
        }

        await output.WriteLineAsync($"managed keys: {total.ToString(CultureInfo.InvariantCulture)} for {store.Users().Count} user(s) in {store.Directory}").ConfigureAwait(false);
        var others = OtherWriters.Find(layout);
        await output.WriteLineAsync(others.Count == 0 ? "other key writers: none found" : "other key writers:").ConfigureAwait(false);
        foreach (var other in others)
        {
            await output.WriteLineAsync($"  {other.Name}: {other.Detail}").ConfigureAwait(false);
        }

        return 0;
    }

    private static string KeyVaultLine(GuardConfig config, GuardServiceStatus? status) => (status, status?.KeyVault, config.KeyVault.VaultUrl) switch
    {
        (_, { } kv, _) => $"key vault: {kv.Vault}: " + (kv.UsingLastKnownGood
            ? $"UNAVAILABLE since {kv.LastAttempt:u}, keeping the last known good keys ({kv.LastError})"
            : $"ok, last pull {kv.LastSuccess:u}, {kv.Keys} key(s), {kv.Requests} request(s) so far"),
        (_, null, null) => "key vault: not configured",
        (null, null, var url) => $"key vault: {url} (pulled by the daemon, which is not running)",
        (_, null, var url) => $"key vault: {url} is configured, but the running daemon does not pull it (it started with another configuration: restart latchd)",
    };
}
