using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Latch.Rig;

namespace Latch.Demo;

/// <summary>
/// What both modes share: the demo's private directory, its two keys (the "portal" key Azure knows from the VM's
/// osProfile, and the operator's own key, whose private half also sits in the vault for <c>latch connect</c>), the latch
/// CLI's configuration and home, and the emulator's control API calls for the hostile agent.
/// </summary>
internal sealed class DemoWorld
{
    public const string User = "azureuser";
    public const string Vault = "latch-demo-kv";
    public const string SecretName = "latch-vm1-key";

    private DemoWorld(string directory, SshKey portal, SshKey @operator)
    {
        Directory = directory;
        Portal = portal;
        Operator = @operator;
    }

    /// <summary>The demo's own directory (0700): keys, scenario, the CLI's home. Deleted at cleanup.</summary>
    public string Directory { get; }

    public SshKey Portal { get; }

    public SshKey Operator { get; }

    public string CliHome => Path.Combine(Directory, "home");

    public string CliConfig => Path.Combine(Directory, "latch.toml");

    /// <summary>This checkout's latch binary (built with the demo: the same configuration).</summary>
    public static string LatchBinary => Path.Combine(RepoPaths.Root, "src", "Latch.Cli", "bin", RepoPaths.Configuration, Framework, "latch");

    public static string Framework => Path.GetFileName(AppContext.BaseDirectory.TrimEnd('/'));

    public static async Task<DemoWorld> CreateAsync(string directory, CancellationToken cancellationToken = default)
    {
        System.IO.Directory.CreateDirectory(directory);
        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var keys = Path.Combine(directory, "keys");
        var portal = await SshKey.CreateAsync(keys, "portal", cancellationToken);
        var @operator = await SshKey.CreateAsync(keys, "operator", cancellationToken);
        var world = new DemoWorld(directory, portal, @operator);
        System.IO.Directory.CreateDirectory(world.CliHome);
        await File.WriteAllTextAsync(world.CliConfig, $"""
            # latch's configuration for the demo (LATCH_CONFIG points here)
            [ssh]
            use_private_ip = true
            connect_timeout = 30
            [azure]
            key_vault = "{Vault}"
            """ + "\n", cancellationToken);
        return world;
    }

    /// <summary>
    /// Adds the demo's vault to a scenario: the operator's public key as <see cref="SecretName"/> (where `latch connect`
    /// finds the key to sync), readable by <paramref name="principal"/>. ssh gets the private half with -i: a private key
    /// in the vault would reach ssh as /proc/self/fd/N, which ssh closes at start-up (reported on issue 7).
    /// </summary>
    public byte[] AddVault(byte[] scenarioJson, string principal)
    {
        var root = JsonNode.Parse(scenarioJson)!.AsObject();
        root["vaults"] = new JsonArray(new JsonObject
        {
            ["name"] = Vault,
            ["allowedPrincipals"] = new JsonArray(principal),
            ["secrets"] = new JsonArray(new JsonObject
            {
                ["name"] = SecretName,
                ["value"] = Operator.PublicKey,
            }),
        });
        return Encoding.UTF8.GetBytes(root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>POST /vms/NAME/hostile-agent: rewrite the VM's authorized_keys to the portal key every interval.</summary>
    public async Task StartHostileAgentAsync(HttpClient http, Uri control, string vm, int intervalMs, int maxRewrites, CancellationToken cancellationToken)
    {
        var body = new JsonObject { ["intervalMs"] = intervalMs, ["key"] = Portal.PublicKey, ["maxRewrites"] = maxRewrites }.ToJsonString();
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(new Uri(control, $"vms/{vm}/hostile-agent"), content, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new DemoCheckException($"the emulator refused the hostile agent for {vm}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
        }
    }

    /// <summary>GET /vms/NAME/hostile-agent: how many rewrites so far (0 when none runs).</summary>
    public static async Task<int> HostileRewritesAsync(HttpClient http, Uri control, string vm, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(new Uri(control, $"vms/{vm}/hostile-agent"), cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            return 0;
        }

        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        return json.RootElement.TryGetProperty("rewrites", out var rewrites) ? rewrites.GetInt32() : 0;
    }

    public static async Task StopHostileAgentAsync(HttpClient http, Uri control, string vm, CancellationToken cancellationToken)
    {
        using var response = await http.DeleteAsync(new Uri(control, $"vms/{vm}/hostile-agent"), cancellationToken);
    }

    /// <summary>The latch CLI's audit records (one JSON line per key sync) from the demo's CLI home.</summary>
    public IReadOnlyList<string> ReadCliAudit()
    {
        var path = Path.Combine(CliHome, ".local", "state", "latch", "audit.jsonl");
        return File.Exists(path) ? [.. File.ReadAllLines(path).Where(l => l.Length > 0)] : [];
    }

    /// <summary>A top-level field of a JSON line as text ("?" when absent).</summary>
    public static string JsonField(string jsonLine, string name)
    {
        try
        {
            using var json = JsonDocument.Parse(jsonLine);
            return json.RootElement.TryGetProperty(name, out var value)
                ? value.ValueKind == JsonValueKind.String ? value.GetString() ?? "" : value.GetRawText()
                : "?";
        }
        catch (JsonException)
        {
            return "?";
        }
    }

    public static string Seconds(double seconds) => seconds.ToString("0.0", CultureInfo.InvariantCulture);
}
