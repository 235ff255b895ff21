using System.Text.Json;
using System.Text.Json.Nodes;
using Latch.Rig;

namespace Latch.VmTests.Cli;

/// <summary>
/// The real latch CLI (src/Latch.Cli's build output) run as an operator would: a process in the azure-host namespace,
/// so its HTTPS goes to the emulator's ARM, Entra and Key Vault and its ssh to the VMs; its own HOME with an ed25519
/// key; the rig's operator service principal; <c>LATCH_EMULATOR</c> at the control API (the CLI reads the endpoints
/// and the CA from there).
/// </summary>
internal sealed class RigLatch
{
    public static readonly string[] SshOptions =
        ["-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=15"];

    private readonly AzureHost _host;

    private RigLatch(AzureHost host, string home, SshKey localKey)
    {
        _host = host;
        Home = home;
        LocalKey = localKey;
    }

    public string Home { get; }

    /// <summary>~/.ssh/id_ed25519 of the operator: the key latch falls back to when Key Vault has none.</summary>
    public SshKey LocalKey { get; }

    public string AuditLog => Path.Combine(Home, ".local", "state", "latch", "audit.jsonl");

    public static async Task<RigLatch> CreateAsync(AzureHost host, CancellationToken cancellationToken)
    {
        var home = Path.Combine(host.Directory, "operator");
        var key = await SshKey.CreateAsync(Path.Combine(home, ".ssh"), "id_ed25519", cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(home, "config.toml"), "[ssh]\nconnect_timeout = 60\nsync_timeout = 120\n", cancellationToken);
        return new RigLatch(host, home, key);
    }

    /// <summary>Runs <c>latch ARGS</c> in the azure host; generous deadline, only against a hang.</summary>
    public Task<CommandResult> RunAsync(params string[] arguments)
    {
        var environment = new Dictionary<string, string>(Command.VmEnvironment)
        {
            ["HOME"] = Home,
            ["LATCH_CONFIG"] = Path.Combine(Home, "config.toml"),
            ["LATCH_EMULATOR"] = EmulatorProcess.ControlUri.ToString(),
            ["AZURE_CLIENT_ID"] = AzureHost.OperatorClientId,
            ["AZURE_CLIENT_SECRET"] = _host.OperatorClientSecret,
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
        };
        if (Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } root)
        {
            environment["DOTNET_ROOT"] = root;
        }

        return Command.RunAsync(["ip", "netns", "exec", _host.Namespace, Dotnet(), Dll(), .. arguments], null, environment, TimeSpan.FromMinutes(5), TestContext.Current.CancellationToken);
    }

    /// <summary>The audit records written so far.</summary>
    public IReadOnlyList<JsonElement> AuditRecords() =>
        File.Exists(AuditLog) ? [.. File.ReadAllLines(AuditLog).Select(l => JsonDocument.Parse(l).RootElement.Clone())] : [];

    /// <summary>Run-command POSTs the emulator has answered so far.</summary>
    public async Task<int> RunCommandCountAsync()
    {
        var requests = await _host.Emulator!.GetRequestsAsync("arm", TestContext.Current.CancellationToken);
        return requests.EnumerateArray().Count(r =>
            r.GetProperty("method").GetString() == "POST" && r.GetProperty("path").GetString()!.Split('?')[0].EndsWith("/runCommand", StringComparison.Ordinal));
    }

    /// <summary>
    /// The rig's scenario plus a Key Vault "latch-kv" that the operator and every VM's managed identity may use (each VM
    /// gets a principal id, so IMDS issues it tokens).
    /// </summary>
    public static async Task<string> ScenarioWithVaultAsync(AzureHost host, CancellationToken cancellationToken)
    {
        var scenario = JsonNode.Parse(ScenarioWriter.Write(host.Vms, host.OperatorClientSecret))!.AsObject();
        var allowed = new JsonArray(AzureHost.OperatorClientId);
        foreach (var vm in scenario["vms"]!.AsArray())
        {
            var principal = Guid.NewGuid().ToString();
            vm!["principalId"] = principal;
            allowed.Add(principal);
        }

        scenario["vaults"] = new JsonArray(new JsonObject { ["name"] = "latch-kv", ["resourceGroup"] = AzureHost.ResourceGroup, ["allowedPrincipals"] = allowed });
        var path = Path.Combine(host.Directory, "scenario-cli.json");
        await File.WriteAllTextAsync(path, scenario.ToJsonString(), cancellationToken);
        return path;
    }

    private static string Dll()
    {
        var framework = Path.GetFileName(AppContext.BaseDirectory.TrimEnd('/'));
        var dll = Path.Combine(RepoPaths.Root, "src", "Latch.Cli", "bin", RepoPaths.Configuration, framework, "latch.dll");
        return File.Exists(dll) ? dll : throw new RigException($"{dll} is missing: build tests/Latch.VmTests (it builds src/Latch.Cli first)");
    }

    private static string Dotnet() =>
        new[] { Environment.GetEnvironmentVariable("DOTNET_HOST_PATH"), RepoPaths.Which("dotnet") }.FirstOrDefault(p => p is { Length: > 0 } && File.Exists(p))
        ?? throw new RigException("no dotnet host found (DOTNET_HOST_PATH, PATH)");
}
