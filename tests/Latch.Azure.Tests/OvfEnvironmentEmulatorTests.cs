using System.Net;
using System.Text.Json;
using Latch.Emulator;
using Latch.Emulator.Scenarios;

namespace Latch.Azure.Tests;

/// <summary>
/// The ovf-env.xml the emulator writes for a scenario VM, read back through Latch.Azure's hardened parser: every
/// field of the LinuxProvisioningConfigurationSet and the platform settings survives the round trip.
/// </summary>
public sealed class OvfEnvironmentEmulatorTests
{
    private const string AliceKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDPkF5VHRonIwWDx4J8dlx4vadF5+3dWZok5Cb9jWB6b alice@test";
    private const string BobKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJFg/BIQqU0lgnMOIP6ADbeMYZ+KorcO+kGQhOH7nwZz bob@test";
    private const string CarolKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOdmhiGFVXt3ygig8V15U0ChGy5iZAmr3MrhKHSKPIRi carol@test";

    [Fact]
    public async Task Every_field_of_a_toml_vm_reaches_the_parsed_ovf_env()
    {
        var ct = TestContext.Current.CancellationToken;
        var scenario = ScenarioLoader.FromToml($"""
            [[vms]]
            name = "vm-full"
            computer_name = "full-host"
            admin_username = "ops"
            admin_password = "Pa55-only-in-ovf-env"
            disable_password_authentication = false
            custom_data = "I2Nsb3VkLWNvbmZpZwo="
            [[vms.public_keys]]
            key_data = "{AliceKey}"
            path = "/home/ops/.ssh/authorized_keys"
            [[vms.public_keys]]
            key_data = "{BobKey}"
            path = "/home/ops/.ssh/authorized_keys"
            [[vms.public_keys]]
            key_data = "{CarolKey}"
            path = "/etc/ssh/keys/ops"
            [[vms.key_pairs]]
            fingerprint = "0123456789abcdef0123456789abcdef01234567"
            path = "/home/ops/.ssh/id_rsa"
            [[vms.key_pairs]]
            fingerprint = "FEDCBA9876543210FEDCBA9876543210FEDCBA98"
            path = "/home/ops/.ssh/deploy"
            """);
        await using var host = await EmulatorHost.StartAsync(new EmulatorOptions { Scenario = scenario }, ct);
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false });

        using var media = await http.PostAsync(new Uri(host.Control, "/vms/vm-full/media"), null, ct);
        Assert.Equal(HttpStatusCode.OK, media.StatusCode);
        var path = JsonDocument.Parse(await media.Content.ReadAsStringAsync(ct)).RootElement.GetProperty("ovfEnvPath").GetString()!;
        await using var file = File.OpenRead(path);
        var ovf = OvfEnvironment.Parse(file);

        Assert.Equal(("full-host", "ops", false), (ovf.HostName, ovf.UserName, ovf.DisableSshPasswordAuthentication));
        Assert.Equal("Pa55-only-in-ovf-env", ovf.UserPassword!.Reveal());
        Assert.Equal("I2Nsb3VkLWNvbmZpZwo=", ovf.CustomData);
        Assert.Equal(
            [(AliceKey, "/home/ops/.ssh/authorized_keys"), (BobKey, "/home/ops/.ssh/authorized_keys"), (CarolKey, "/etc/ssh/keys/ops")],
            ovf.PublicKeys.Select(k => (k.Value!, k.Path!)));
        Assert.All(ovf.PublicKeys, k => Assert.Matches("^[0-9A-F]{40}$", k.Fingerprint));
        Assert.Equal(
            [new OvfKeyPair("0123456789ABCDEF0123456789ABCDEF01234567", "/home/ops/.ssh/id_rsa"), new OvfKeyPair("FEDCBA9876543210FEDCBA9876543210FEDCBA98", "/home/ops/.ssh/deploy")],
            ovf.KeyPairs);
        Assert.True(ovf.ProvisionGuestAgent);
        Assert.False(ovf.PreprovisionedVm);
    }

    [Theory]
    [InlineData("fingerprint = \"abc\"\npath = \"/root/.ssh/id_rsa\"", "key_pairs[0].fingerprint")]
    [InlineData("fingerprint = \"0123456789abcdef0123456789abcdef01234567\"\npath = \"id_rsa\"", "key_pairs[0].path")]
    [InlineData("path = \"/root/.ssh/id_rsa\"", "fingerprint")]
    public void A_bad_key_pair_is_a_scenario_error_naming_the_key(string pair, string named)
    {
        var error = Assert.Throws<ScenarioException>(() => ScenarioLoader.FromToml($"[[vms]]\nname = \"vm-a\"\n[[vms.key_pairs]]\n{pair}\n"));

        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }
}
