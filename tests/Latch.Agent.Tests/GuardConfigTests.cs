using Latch.Agent.Guard;
using Latch.Agent.Guard.Install;

namespace Latch.Agent.Tests;

public sealed class GuardConfigTests
{
    [Fact]
    public void Guard_and_keyvault_tables_are_read_and_other_tables_are_left_to_others()
    {
        var config = GuardConfig.Parse("""
            [Provisioning]
            Agent = "latch"
            [guard]
            quiet_ms = 50     # debounce
            max_watches = 10
            [keyvault]
            vault_url = "https://kv1.vault.azure.net/"
            secret_names = "a-key, b-key"
            discover_by_tags = false
            poll_seconds = 120
            jitter_percent = 10
            start_jitter = false
            default_user = "azureuser"
            """, "latchd.toml");

        Assert.True(new GuardConfig().KeyVault.StartJitter, "start jitter is on by default");
        Assert.False(config.KeyVault.StartJitter);

        Assert.Equal(TimeSpan.FromMilliseconds(50), config.Watch.QuietWindow);
        Assert.Equal(10, config.Watch.MaxWatches);
        Assert.Equal(new Uri("https://kv1.vault.azure.net/"), config.KeyVault.VaultUrl);
        Assert.Equal(["a-key", "b-key"], config.KeyVault.SecretNames);
        Assert.False(config.KeyVault.DiscoverByTags);
        Assert.Equal(TimeSpan.FromSeconds(120), config.KeyVault.PollInterval);
        Assert.Equal(0.1, config.KeyVault.Jitter, 3);
        Assert.Equal("latch", config.KeyVault.SecretPrefix);
    }

    [Theory]
    [InlineData("keys", "list")]
    [InlineData("guard", "status")]
    public async Task A_bad_guard_configuration_is_a_usage_error_naming_the_file_not_a_stack_trace(string command, string subcommand)
    {
        var dir = Directory.CreateTempSubdirectory("latchd-badconf-").FullName;
        try
        {
            var file = Path.Combine(dir, "latchd.toml");
            await File.WriteAllTextAsync(file, "[guard]\nquiet_ms = \"soon\"\n", TestContext.Current.CancellationToken);
            var (status, _, error) = await AgentRun.RunAsync([command, subcommand, "--config", file]);
            Assert.Equal(2, status);
            Assert.StartsWith("latchd: ", error, StringComparison.Ordinal);
            Assert.Contains(file, error, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("[guard]\nquiet = 5", "latchd.toml:2: unknown setting 'guard.quiet'")]
    [InlineData("[guard]\nmax_watches = -1", "guard.max_watches must be an integer from 0")]
    [InlineData("[keyvault]\nvault_url = \"kv1\"", "keyvault.vault_url must be an absolute https URL")]
    [InlineData("[keyvault]\ndefault_user = \"../root\"", "is not a valid user name")]
    [InlineData("[guard]\nstore_dir = \"relative\"", "guard.store_dir must be an absolute path")]
    public void Bad_settings_name_the_file_line_and_key(string text, string expected)
    {
        var error = Assert.Throws<GuardConfigException>(() => GuardConfig.Parse(text, "latchd.toml"));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Waagent_setting_is_replaced_in_place_uncommented_or_appended()
    {
        Assert.Equal("A=1\nProvisioning.Agent=disabled\nB=2\n", QuietOthers.SetWaagentValue("A=1\nProvisioning.Agent=auto\nB=2\n", "Provisioning.Agent", "disabled"));
        Assert.Equal("Provisioning.Agent=disabled\nB=2\n", QuietOthers.SetWaagentValue("#Provisioning.Agent=auto\nB=2\n", "Provisioning.Agent", "disabled"));
        Assert.Equal("B=2\nProvisioning.Agent=disabled\n", QuietOthers.SetWaagentValue("B=2\n", "Provisioning.Agent", "disabled"));
        Assert.Equal("waagent", QuietOthers.WaagentValue("# Provisioning.Agent=x\nProvisioning.Agent=\"waagent\" # comment\n", "Provisioning.Agent"));
    }

    [Fact]
    public void Drop_in_names_the_absolute_binary_all_four_tokens_and_the_dedicated_user()
    {
        var layout = new GuardLayout();

        Assert.Contains("AuthorizedKeysCommand /usr/sbin/latch-akc %u %f %t %k\n", layout.DropInText, StringComparison.Ordinal);
        Assert.Equal("/usr/sbin/latchd authorized-keys --store /srv/k %u %f %t %k", (layout with { Binary = "/usr/sbin/latchd", StoreDir = "/srv/k" }).CommandLine);
        Assert.Contains("AuthorizedKeysCommandUser latch-akc\n", layout.DropInText, StringComparison.Ordinal);
    }

    [Fact]
    public void Sshd_effective_values_are_read_from_sshd_T_output()
    {
        const string output = "port 22\nauthorizedkeyscommand /usr/sbin/latchd authorized-keys %u %f %t %k\nauthorizedkeyscommanduser latch-akc\n";

        Assert.Equal("/usr/sbin/latchd authorized-keys %u %f %t %k", SshdConfigScan.Effective(output, "authorizedkeyscommand"));
        Assert.Equal("latch-akc", SshdConfigScan.Effective(output, "AuthorizedKeysCommandUser"));
        Assert.Null(SshdConfigScan.Effective(output, "nosuchkey"));
    }

    [Fact]
    public void Binary_in_a_world_writable_directory_is_refused_the_way_sshd_would()
    {
        using var dir = new TestDirectory();
        var bin = dir.RootDirectory("bin");
        File.Copy("/bin/true", bin + "/latchd");
        Assert.Null(TrustedBinary.Problem(bin + "/latchd"));

        File.SetUnixFileMode(bin, (UnixFileMode)0b111_111_111);
        Assert.Contains("writable by group or others", TrustedBinary.Problem(bin + "/latchd"), StringComparison.Ordinal);
        Assert.Contains("not an absolute path", TrustedBinary.Problem("latchd"), StringComparison.Ordinal);
        Assert.Contains("does not exist", TrustedBinary.Problem(bin + "/nothing"), StringComparison.Ordinal);
    }
}
