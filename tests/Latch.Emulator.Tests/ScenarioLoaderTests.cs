using Latch.Emulator.Scenarios;

namespace Latch.Emulator.Tests;

public sealed class ScenarioLoaderTests
{
    internal static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Latch.slnx")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("cannot find the repository root (Latch.slnx) above " + AppContext.BaseDirectory);
    }

    [Fact]
    public async Task Demo_scenario_has_two_vms_with_keys_and_tags_and_one_vault()
    {
        var scenario = await ScenarioLoader.LoadFileAsync(Path.Combine(RepositoryRoot(), "examples", "demo.toml"), TestContext.Current.CancellationToken);

        Assert.Equal(["vm-web", "vm-db"], scenario.Vms.Select(v => v.Name));
        var web = scenario.Vms[0];
        Assert.NotEmpty(web.PublicKeys);
        Assert.All(scenario.Vms, vm => Assert.NotEmpty(vm.PublicKeys));
        Assert.Equal("web", web.Tags["role"]);
        Assert.Equal("169.254.1.2", web.SourceAddress);
        var vault = Assert.Single(scenario.Vaults);
        Assert.Equal("latch-demo-kv", vault.Name);
        Assert.Contains(vault.Secrets, s => s.Name == "latch-vm-web-key" && s.Value.StartsWith("ssh-ed25519 ", StringComparison.Ordinal));
        Assert.Contains(web.PrincipalId, vault.AllowedPrincipals);
    }

    [Fact]
    public void Service_principals_and_security_rules_are_read()
    {
        const string toml = """
            [[service_principals]]
            client_id = "ops"
            client_secret = "s3cret"
            [[vms]]
            name = "vm-a"
            [[vms.security_rules]]
            name = "ssh-from-link-local"
            priority = 310
            source_address_prefix = "169.254.0.0/16"
            [[vms]]
            name = "vm-b"
            """;

        var scenario = ScenarioLoader.FromToml(toml);

        Assert.Equal("ops", Assert.Single(scenario.ServicePrincipals).ClientId);
        var rule = Assert.Single(scenario.Vms[0].SecurityRules!);
        Assert.Equal((310, "169.254.0.0/16", "22"), (rule.Priority, rule.SourceAddressPrefix, rule.DestinationPortRange));
        Assert.Null(scenario.Vms[1].SecurityRules);
    }

    [Fact]
    public void Json_scenario_in_camel_case_maps_like_toml()
    {
        var json = """
            {
              "subscriptionId": "11111111-2222-4333-8444-555555555555",
              "vms": [{
                "name": "vm-a",
                "adminUsername": "alice",
                "disablePasswordAuthentication": false,
                "publicKeys": [{ "keyData": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDPkF5VHRonIwWDx4J8dlx4vadF5+3dWZok5Cb9jWB6b a@b" }],
                "tags": { "env": "x", "deploymentStart": "2025", "Owner": "ops" }
              }],
              "vaults": [{ "name": "kv-one", "secrets": [{ "name": "s1", "value": "v", "expires": "2030-01-01T00:00:00Z" }] }]
            }
            """;

        var scenario = ScenarioLoader.FromJson(json);

        var vm = Assert.Single(scenario.Vms);
        Assert.Equal("alice", vm.AdminUsername);
        Assert.False(vm.DisablePasswordAuthentication);
        Assert.Equal(["env", "deploymentStart", "Owner"], vm.Tags.Keys);   // map keys are data: never re-cased
        Assert.Equal("/home/alice/.ssh/authorized_keys", Assert.Single(vm.PublicKeys).Path);
        Assert.Equal(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero), scenario.Vaults[0].Secrets[0].Expires);
    }

    [Fact]
    public void Same_scenario_without_ids_gets_the_same_ids_every_time()
    {
        const string toml = "[[vms]]\nname = \"vm-a\"\n";
        Assert.Equal(ScenarioLoader.FromToml(toml).Vms[0].VmId, ScenarioLoader.FromToml(toml).Vms[0].VmId);
    }

    [Fact]
    public void Bad_value_error_names_the_key_path_and_line()
    {
        const string toml = "[[vms]]\nname = \"vm-a\"\n\n[[vms]]\nname = \"vm-b\"\nsource_address = \"not-an-ip\"\n";

        var error = Assert.Throws<ScenarioException>(() => ScenarioLoader.FromToml(toml, "bad.toml"));

        Assert.Contains("bad.toml", error.Message, StringComparison.Ordinal);
        Assert.Contains("vms[1].source_address", error.Message, StringComparison.Ordinal);
        Assert.Contains("line 6", error.Message, StringComparison.Ordinal);
        Assert.Contains("IP address", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_key_is_rejected_and_the_known_keys_are_listed()
    {
        const string toml = "[[vms]]\nname = \"vm-a\"\nadmin_usrname = \"bob\"\n";

        var error = Assert.Throws<ScenarioException>(() => ScenarioLoader.FromToml(toml, "typo.toml"));

        Assert.Contains("vms[0].admin_usrname", error.Message, StringComparison.Ordinal);
        Assert.Contains("admin_username", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Toml_syntax_error_names_the_line()
    {
        const string toml = "subscription_id = \"11111111-2222-4333-8444-555555555555\"\n[[vms]\nname = \"x\"\n";

        var error = Assert.Throws<ScenarioException>(() => ScenarioLoader.FromToml(toml, "syntax.toml"));

        Assert.Contains("syntax.toml: line 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_syntax_error_names_the_line()
    {
        var error = Assert.Throws<ScenarioException>(() => ScenarioLoader.FromJson("{\n \"vms\": [\n  {\"name\": }\n ]\n}", "s.json"));

        Assert.Contains("s.json: line 3", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_that_is_not_an_openssh_line_is_rejected()
    {
        const string toml = "[[vms]]\nname = \"vm-a\"\n[[vms.public_keys]]\nkey_data = \"AAAA only-base64\"\n";

        var error = Assert.Throws<ScenarioException>(() => ScenarioLoader.FromToml(toml));

        Assert.Contains("vms[0].public_keys[0].key_data", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_vms_with_the_same_name_are_rejected()
    {
        var error = Assert.Throws<ScenarioException>(() => ScenarioLoader.FromToml("[[vms]]\nname = \"a\"\n[[vms]]\nname = \"A\"\n"));

        Assert.Contains("used twice", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_secret_value_never_appears_in_an_error()
    {
        const string toml = "[[vaults]]\nname = \"kv-one\"\n[[vaults.secrets]]\nname = \"bad name!\"\nvalue = \"TOP-SECRET-VALUE\"\n";

        var error = Assert.Throws<ScenarioException>(() => ScenarioLoader.FromToml(toml));

        Assert.Contains("vaults[0].secrets[0].name", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("TOP-SECRET-VALUE", error.Message, StringComparison.Ordinal);
    }
}
