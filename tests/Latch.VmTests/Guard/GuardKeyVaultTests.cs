using System.Text.Json.Nodes;
using Latch.Rig;

namespace Latch.VmTests.Guard;

public sealed class GuardKeyVaultTests
{
    /// <summary>Writes a secret version from inside the VM with the VM's own managed identity (the vault allows it).</summary>
    private static async Task PutSecretAsync(GuardVm vm, string name, string value, DateTimeOffset? expires = null)
    {
        var attributes = new JsonObject { ["enabled"] = true };
        if (expires is { } exp)
        {
            attributes["exp"] = exp.ToUnixTimeSeconds();
        }

        var body = new JsonObject { ["value"] = value, ["attributes"] = attributes, ["tags"] = new JsonObject { ["latch-user"] = "alice" } }.ToJsonString();
        var script = """
            t=$(curl -sS --max-time 20 -H Metadata:true 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net' | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
            curl -sS --fail-with-body --max-time 20 --cacert /etc/latch/emulator-ca.pem -X PUT -H "Authorization: Bearer $t" -H 'Content-Type: application/json' --data-binary @- "https://169.254.128.1:8443/secrets/$1?api-version=7.5"
            """;
        var put = await vm.Vm.ExecAsync(["/bin/sh", "-c", script, "put", name], body, cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(put.Succeeded, $"PUT secret {name}: {put.Stdout} {put.Stderr}");
    }

    private static async Task<string> ScenarioAsync(AzureHost host)
    {
        var scenario = JsonNode.Parse(ScenarioWriter.Write(host.Vms, host.OperatorClientSecret))!.AsObject();
        var principal = Guid.NewGuid().ToString();
        scenario["vms"]![0]!["principalId"] = principal;
        scenario["vaults"] = new JsonArray(new JsonObject { ["name"] = "latch-kv", ["allowedPrincipals"] = new JsonArray(principal) });
        var path = Path.Combine(host.Directory, "scenario-kv.json");
        await File.WriteAllTextAsync(path, scenario.ToJsonString(), TestContext.Current.CancellationToken);
        return path;
    }

    private static async Task FaultAsync(AzureHost host, string spec, bool clear = false)
    {
        using var http = host.CreateHttpClient();
        using var response = clear
            ? await http.DeleteAsync(new Uri(EmulatorProcess.ControlUri, "faults"), TestContext.Current.CancellationToken)
            : await http.PostAsync(new Uri(EmulatorProcess.ControlUri, "faults"), new StringContent($"{{\"spec\":\"{spec}\"}}", System.Text.Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"fault {spec}: {(int)response.StatusCode}");
    }

    [Fact]
    public async Task Keys_from_Key_Vault_log_in_after_refresh_survive_an_outage_and_expire()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var vm = await GuardVm.StartAsync();
        var emulator = await vm.Host.StartEmulatorAsync(await ScenarioAsync(vm.Host), cancellationToken: ct);
        await vm.Vm.WriteFileAsync("/etc/latch/emulator-ca.pem", await File.ReadAllTextAsync(emulator.Endpoint("ca")!, ct), cancellationToken: ct);
        await vm.Vm.WriteFileAsync("/etc/latch/latchd.toml", """
            [keyvault]
            vault_url = "https://169.254.128.1:8443/"
            ca_certificate = "/etc/latch/emulator-ca.pem"
            verify_challenge_resource = false
            """, cancellationToken: ct);
        await vm.LatchdAsync("guard", "install");
        Assert.False((await vm.SshAsync(vm.Managed)).Succeeded, "no key in the vault yet");

        // azlin's convention: PREFIX-VM-key holding the private key; latchd derives the public key in memory
        await PutSecretAsync(vm, "latch-vm1-key", await File.ReadAllTextAsync(vm.Managed.PrivateKeyPath, ct));
        var refreshed = await vm.LatchdAsync("keys", "refresh");
        Assert.Contains("changed alice", refreshed.Stdout, StringComparison.Ordinal);
        Assert.True((await vm.SshAsync(vm.Managed)).Succeeded, "login with the key from Key Vault");
        var list = await vm.LatchdAsync("keys", "list");
        Assert.Contains("keyvault:latch-vm1-key", list.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE", (await vm.Vm.RunAsync("cat /var/lib/latch/keys/alice; cat /var/log/latch/audit.jsonl 2>/dev/null", cancellationToken: ct)).Stdout, StringComparison.Ordinal);

        await FaultAsync(vm.Host, "keyvault:status=503");
        var failed = await vm.Vm.ExecAsync([GuardVm.Latchd, "keys", "refresh"], timeout: TimeSpan.FromMinutes(3), cancellationToken: ct);
        Assert.Equal(1, failed.ExitCode);
        Assert.Contains("last known good keys stay", failed.Stderr, StringComparison.Ordinal);
        Assert.True((await vm.SshAsync(vm.Managed)).Succeeded, "login while Key Vault is down");
        var degraded = await vm.Vm.ExecAsync([GuardVm.Latchd, "status"], cancellationToken: ct);
        Assert.Equal(1, degraded.ExitCode);
        Assert.Contains("(last pull, no daemon running): USING THE LAST KNOWN GOOD KEYS since", degraded.Stdout, StringComparison.Ordinal);
        Assert.Contains("AuthorizedKeysCommand: active", degraded.Stdout, StringComparison.Ordinal);
        Assert.Contains("managed keys of alice: 1 valid", degraded.Stdout, StringComparison.Ordinal);
        await FaultAsync(vm.Host, "", clear: true);

        await PutSecretAsync(vm, "latch-vm1-key", await File.ReadAllTextAsync(vm.Managed.PrivateKeyPath, ct), expires: DateTimeOffset.UtcNow.AddMinutes(-1));
        await vm.LatchdAsync("keys", "refresh");
        Assert.False((await vm.SshAsync(vm.Managed)).Succeeded, "login with an expired key");
        Assert.DoesNotContain(vm.Managed.PublicKey.Split(' ')[1], await vm.Vm.ReadFileAsync(vm.User.AuthorizedKeysPath, ct), StringComparison.Ordinal);
        Assert.Contains("retired", (await vm.LatchdAsync("keys", "list")).Stdout, StringComparison.Ordinal);
        Assert.True((await vm.SshAsync(vm.Own)).Succeeded);
    }
}
