using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Latch.Emulator.Tests;

/// <summary>The whole host: IMDS managed identity, Key Vault and ARM behind the emulator's own CA, with faults on top.</summary>
public sealed class HostWiringTests
{
    private static Scenario WithVault()
    {
        var scenario = TestEmulator.DefaultScenario();
        return scenario with
        {
            Vaults =
            [
                new VaultDefinition
                {
                    Name = "kv-test",
                    AllowedPrincipals = [scenario.Vms[0].PrincipalId],
                    Secrets = [new SecretDefinition { Name = "latch-vm-web-key", Value = TestEmulator.OperatorKey }],
                },
            ],
        };
    }

    [Fact]
    public async Task Vm_reads_its_key_from_key_vault_with_an_imds_token_over_tls_it_trusts_through_the_ca_file()
    {
        await using var emulator = await TestEmulator.StartAsync(WithVault());
        Assert.Equal("https", emulator.Host.KeyVault.Scheme);
        Assert.Equal("https", emulator.Host.Arm.Scheme);
        Assert.True(File.Exists(emulator.Host.CaCertificatePath));

        using var tokenResponse = await emulator.ImdsAsync("/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net");
        Assert.Equal(HttpStatusCode.OK, tokenResponse.StatusCode);
        using var token = JsonDocument.Parse(await tokenResponse.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        var accessToken = token.RootElement.GetProperty("access_token").GetString();

        var client = emulator.TrustingHttp;
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(emulator.Host.KeyVault, "/secrets/latch-vm-web-key?api-version=7.4"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        using var secret = await client.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, secret.StatusCode);
        using var json = JsonDocument.Parse(await secret.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal(TestEmulator.OperatorKey, json.RootElement.GetProperty("value").GetString());
        Assert.Contains(emulator.Host.State.Requests, r => r.Group == "identity" && r.Status == 200);
        Assert.DoesNotContain(accessToken!, emulator.Logs.All, StringComparison.Ordinal);
        Assert.DoesNotContain(TestEmulator.OperatorKey, emulator.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Arm_without_a_token_is_401_and_faults_reach_it()
    {
        await using var emulator = await TestEmulator.StartAsync(WithVault());
        var client = emulator.TrustingHttp;
        var vm = new Uri(emulator.Host.Arm, "/subscriptions/11111111-2222-4333-8444-555555555555/resourceGroups/rg-test/providers/Microsoft.Compute/virtualMachines/vm-web?api-version=2024-07-01");

        using var anonymous = await client.GetAsync(vm, TestContext.Current.CancellationToken);
        emulator.Host.State.Faults.Add(Faults.FaultRule.Parse("arm:status=503,count=1"));
        using var faulted = await client.GetAsync(vm, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, faulted.StatusCode);
    }
}
