using System.Text.Json;
using Latch.Azure;
using Latch.Rig;

namespace Latch.VmTests;

public sealed class RunCommandInVmTests
{
    [Fact]
    public async Task Arm_run_command_runs_the_script_as_root_inside_the_vm()
    {
        RigRequires.All();
        var ct = TestContext.Current.CancellationToken;
        await using var host = await AzureHost.StartAsync(ct);
        var vm = await host.AddVmAsync("vm1", cancellationToken: ct);
        await host.StartEmulatorAsync(cancellationToken: ct);
        using var handler = host.CreateTrustingHandler();
        var token = await OperatorTokenAsync(handler, host.OperatorClientSecret, ct);
        using var client = new RunCommandClient(
            new ArmClientOptions { BaseAddress = EmulatorProcess.ArmUri, Handler = handler },
            _ => ValueTask.FromResult(token));
        var marker = "/var/tmp/latch-run-command-" + Guid.NewGuid().ToString("N");
        var vmId = $"/subscriptions/{AzureHost.SubscriptionId}/resourceGroups/{AzureHost.ResourceGroup}/providers/Microsoft.Compute/virtualMachines/{vm.Name}";

        var result = await client.RunShellScriptAsync(
            vmId,
            ["id -un", "hostname", "cat /etc/os-release", "echo \"ran as $(id -u) on $(hostname)\" > \"$MARKER\""],
            new Dictionary<string, string> { ["MARKER"] = marker },
            TimeSpan.FromMinutes(2),
            ct);

        Assert.True(result.Succeeded, $"run-command failed: {result.Code} {result.Message}\nemulator:\n{host.Emulator!.Process.Log}");
        Assert.Equal(0, result.ExitCode);
        var lines = result.Stdout.Split('\n');
        Assert.Equal("root", lines[0]);
        Assert.Equal(vm.Name, lines[1]);
        Assert.NotEqual(vm.Name, Environment.MachineName); // the host's own name would not prove anything
        Assert.Contains((await vm.ReadFileAsync("/etc/os-release", ct)).TrimEnd('\n'), result.Stdout, StringComparison.Ordinal);
        Assert.Equal($"ran as 0 on {vm.Name}\n", await vm.ReadFileAsync(marker, ct));
        Assert.False(File.Exists(marker), $"{marker} appeared on the host, so the script did not run inside the VM");
    }

    /// <summary>A token for ARM from the emulator's Entra endpoint, as the rig's operator service principal (client credentials).</summary>
    private static async Task<AccessToken> OperatorTokenAsync(HttpMessageHandler handler, string secret, CancellationToken cancellationToken)
    {
        using var http = new HttpClient(handler, disposeHandler: false) { Timeout = TimeSpan.FromSeconds(30) };
        using var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = AzureHost.OperatorClientId,
            ["client_secret"] = secret,
            ["scope"] = "https://management.azure.com/.default",
        });
        using var response = await http.PostAsync(new Uri(EmulatorProcess.ArmUri, $"{AzureHost.TenantId}/oauth2/v2.0/token"), form, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"the Entra token endpoint answered {(int)response.StatusCode}: {body}");
        using var json = JsonDocument.Parse(body);
        var expiresIn = json.RootElement.GetProperty("expires_in").GetInt32();
        return new AccessToken(new Secret(json.RootElement.GetProperty("access_token").GetString()!), DateTimeOffset.UtcNow.AddSeconds(expiresIn));
    }
}
