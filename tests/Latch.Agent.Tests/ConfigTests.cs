using Latch.Agent.Config;

namespace Latch.Agent.Tests;

public sealed class ConfigTests
{
    // the shape of Debian's /etc/waagent.conf (2.7): comments, keys latchd uses and keys it does not
    private const string WaagentConf = """
        #
        # Microsoft Azure Linux Agent Configuration
        #

        # Enable extension handling. Do not disable this unless you do not need password reset,
        # backup, monitoring, or any extension handling whatsoever.
        Extensions.Enabled=y

        # Which provisioning agent to use. Supported values are "auto" (default), "waagent",
        # "cloud-init", or "disabled".
        Provisioning.Agent=auto

        # Password authentication for root account will be unavailable.
        Provisioning.DeleteRootPassword=y

        # Generate fresh host key pair.
        Provisioning.RegenerateSshHostKeyPair=y

        # Supported values are "rsa", "dsa", "ecdsa", "ed25519", and "auto".
        Provisioning.SshHostKeyPairType=ed25519   # trailing comment

        Provisioning.PasswordCryptSaltLength=12
        ResourceDisk.Format=y
        ResourceDisk.Filesystem=ext4
        OS.HomeDir=/home
        HttpProxy.Host=proxy.example
        HttpProxy.Port=3128
        Logs.Verbose=n
        """;

    [Fact]
    public void Reads_the_keys_it_understands_from_waagent_conf_and_lists_the_others()
    {
        var config = AgentConfig.From(ConfigFile.ParseWaagentConf(WaagentConf), "/etc/waagent.conf", strict: false);

        Assert.Equal("auto", config.ProvisioningAgent);
        Assert.True(config.DeleteRootPassword);
        Assert.True(config.RegenerateSshHostKeyPair);
        Assert.Equal(HostKeyType.Ed25519, config.SshHostKeyPairType);
        Assert.Equal(12, config.PasswordCryptSaltLength);
        Assert.True(config.ResourceDiskFormat);
        Assert.Equal("proxy.example", config.HttpProxyHost);
        Assert.Equal(3128, config.HttpProxyPort);
        Assert.Equal(["Extensions.Enabled", "Logs.Verbose"], config.Ignored);
    }

    [Fact]
    public void Defaults_are_waagents_when_nothing_is_configured()
    {
        var config = AgentConfig.From([], "(none)", strict: true);

        Assert.False(config.RegenerateSshHostKeyPair);
        Assert.Equal(HostKeyType.Rsa, config.SshHostKeyPairType);
        Assert.Equal(10, config.PasswordCryptSaltLength);
        Assert.Equal("/home", config.HomeDirectory);
        Assert.Equal("/var/lib/latch", config.StateDirectory);
        Assert.True(config.UseImds);
    }

    [Fact]
    public void Reads_latchd_toml_tables_strings_booleans_and_integers()
    {
        var toml = """
            # latchd configuration
            [Provisioning]
            RegenerateSshHostKeyPair = true
            SshHostKeyPairType = "auto"   # every type
            PasswordCryptSaltLength = 16

            [Latch]
            OvfEnvPath = '/var/lib/latch/media/ovf-env.xml'
            UseImds = false
            ImdsUrl = "http://169.254.169.254"
            """;

        var config = AgentConfig.From(ConfigFile.ParseToml(toml, "latchd.toml"), "latchd.toml", strict: true);

        Assert.True(config.RegenerateSshHostKeyPair);
        Assert.Equal(HostKeyType.Auto, config.SshHostKeyPairType);
        Assert.Equal(16, config.PasswordCryptSaltLength);
        Assert.Equal("/var/lib/latch/media/ovf-env.xml", config.OvfEnvPath);
        Assert.False(config.UseImds);
        Assert.Equal(new Uri("http://169.254.169.254"), config.ImdsUrl);
    }

    [Theory]
    [InlineData("[Provisioning]\nRegenerateSshHostKeyPiar = true\n", "latchd.toml:2: Provisioning.RegenerateSshHostKeyPiar is not a latchd setting")]
    [InlineData("[Provisioning]\nRegenerateSshHostKeyPair = maybe\n", "latchd.toml:2: the value of 'Provisioning.RegenerateSshHostKeyPair' must be")]
    [InlineData("[Provisioning]\nSshHostKeyPairType = \"dsa\"\n", "latchd.toml:2: Provisioning.SshHostKeyPairType: dsa host keys are refused")]
    [InlineData("[Latch]\nOvfEnvPath = \"relative/ovf-env.xml\"\n", "latchd.toml:2: Latch.OvfEnvPath must be an absolute path")]
    [InlineData("[Latch]\nOvfEnvPath = \"/x\nUseImds = true\n", "latchd.toml:2: a string is not closed")]
    [InlineData("[Provisioning]\nPasswordCryptSaltLength = 99\n", "latchd.toml:2: Provisioning.PasswordCryptSaltLength must be a whole number from 8 to 16")]
    [InlineData("[Latch]\nUseImds = true\nUseImds = false\n", "latchd.toml:3: 'Latch.UseImds' is set twice")]
    [InlineData("[[Latch]]\n", "latchd.toml:1: '[[Latch]]' is not a table header")]
    public void A_bad_latchd_toml_is_refused_naming_the_line_and_key(string toml, string expected)
    {
        var error = Assert.Throws<ConfigException>(() => AgentConfig.From(ConfigFile.ParseToml(toml, "latchd.toml"), "latchd.toml", strict: true));

        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Latchd_toml_is_preferred_to_waagent_conf_and_read_below_the_root()
    {
        var root = Directory.CreateTempSubdirectory("latchd-config-").FullName;
        try
        {
            Directory.CreateDirectory(root + "/etc/latch");
            File.WriteAllText(root + "/etc/waagent.conf", "Provisioning.RegenerateSshHostKeyPair=y\n");
            Assert.True(ConfigLoader.Load(null, root).RegenerateSshHostKeyPair);
            Assert.Equal(root + "/etc/waagent.conf", ConfigLoader.Load(null, root).Source);

            File.WriteAllText(root + "/etc/latch/latchd.toml", "[Provisioning]\nRegenerateSshHostKeyPair = false\n");
            Assert.False(ConfigLoader.Load(null, root).RegenerateSshHostKeyPair);
            Assert.Equal(root + "/etc/latch/latchd.toml", ConfigLoader.Load(null, root).Source);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void An_explicit_config_file_that_is_missing_is_an_error()
    {
        var error = Assert.Throws<ConfigException>(() => ConfigLoader.Load("/nonexistent/latchd.toml", "/"));

        Assert.Contains("/nonexistent/latchd.toml", error.Message, StringComparison.Ordinal);
    }
}
