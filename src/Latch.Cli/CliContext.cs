using Latch.Cli.Config;

namespace Latch.Cli;

/// <summary>
/// What every command gets: streams, environment, clock, paths, the loaded config, and the global options
/// (--emulator, --subscription, --verbose). Flags beat environment variables, which beat the config file.
/// </summary>
internal sealed class CliContext
{
    public CliContext(CliStreams streams, Func<string, string?> environment, TimeProvider time, LatchPaths paths, LatchConfig config)
    {
        Streams = streams;
        Environment = environment;
        Time = time;
        Paths = paths;
        Config = config;
    }

    public CliStreams Streams { get; }
    public Func<string, string?> Environment { get; }
    public TimeProvider Time { get; }
    public LatchPaths Paths { get; }
    public LatchConfig Config { get; }

    public string? EmulatorFlag { get; init; }
    public string? SubscriptionFlag { get; init; }
    public bool Verbose { get; init; }

    /// <summary>True when stdout is a terminal (progress and colour), false when piped or in tests.</summary>
    public bool Interactive { get; init; }

    public string? EmulatorUrl => EmulatorFlag ?? NonEmpty(Environment("LATCH_EMULATOR")) ?? Config.GetString("azure.emulator");

    public string? Subscription => SubscriptionFlag ?? NonEmpty(Environment("AZURE_SUBSCRIPTION_ID")) ?? Config.GetString("azure.subscription");

    public string? KeyVault => Config.GetString("azure.key_vault");

    public string SecretPrefix => Config.GetString("azure.key_secret_prefix") ?? "latch";

    /// <summary>The Key Vault secret holding a VM's key: <c>[vm.NAME] key_secret</c>, else <c>PREFIX-VM-key</c>.</summary>
    public string SecretName(string vm) => Config.VmString(vm, "key_secret") ?? $"{SecretPrefix}-{vm}-key";

    public string SshProgram => NonEmpty(Environment("LATCH_SSH")) ?? Config.GetString("ssh.program") ?? "ssh";

    public void Warn(string message) => Write(Streams.Error, "warning: " + message);

    public void Info(string message) => Write(Streams.Error, message);

    public void Detail(string message)
    {
        if (Verbose)
        {
            Write(Streams.Error, message);
        }
    }

    private static void Write(TextWriter writer, string line)
    {
        lock (writer)
        {
            writer.WriteLine("latch: " + line);
        }
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
