using System.Text;

namespace Latch.Azure.Tests;

public sealed class OvfEnvironmentTests
{
    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    [Fact]
    public void Parses_every_public_key_of_a_multi_key_document()
    {
        // WALinuxAgent #3454 lost the second of two keys: both must come through, in order
        var ovf = OvfEnvironment.Parse(Utf8(Fixtures.OvfEnv));

        Assert.Equal("latch-vm1", ovf.HostName);
        Assert.Equal("azureuser", ovf.UserName);
        Assert.True(ovf.DisableSshPasswordAuthentication);
        Assert.Collection(
            ovf.PublicKeys,
            k =>
            {
                Assert.Equal("EB0C0AB4B2D5FC35F2F0658D19F44C8283E2DD62", k.Fingerprint);
                Assert.Equal("$HOME/azureuser/.ssh/authorized_keys", k.Path);
                Assert.Equal("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFirstKey alice@laptop", k.Value);
            },
            k => Assert.Equal("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABSecondKey bob@desk", k.Value));
        var pair = Assert.Single(ovf.KeyPairs);
        Assert.Equal("$HOME/azureuser/.ssh/id_rsa", pair.Path);
        Assert.True(ovf.ProvisionGuestAgent);
        Assert.False(ovf.PreprovisionedVm);
        Assert.Equal("#cloud-config\nruncmd: [[true]]", Encoding.UTF8.GetString(ovf.DecodeCustomData()!));
    }

    [Fact]
    public void Keeps_the_password_as_a_secret_that_never_prints()
    {
        var ovf = OvfEnvironment.Parse(Utf8(Fixtures.OvfEnv));

        Assert.Equal("Hunter2-Correct-Horse", ovf.UserPassword!.Reveal());
        Assert.Equal("***", ovf.UserPassword.ToString());
        Assert.DoesNotContain("Hunter2", ovf.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("I2Nsb3Vk", ovf.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Strips_a_utf8_byte_order_mark()
    {
        var withBom = new byte[] { 0xEF, 0xBB, 0xBF }.Concat(Utf8(Fixtures.OvfEnv.TrimStart())).ToArray();

        var ovf = OvfEnvironment.Parse(new MemoryStream(withBom));

        Assert.Equal(2, ovf.PublicKeys.Count);
    }

    [Fact]
    public void Treats_anything_but_true_as_password_authentication_allowed()
    {
        var xml = Fixtures.OvfEnv.Replace("<DisableSshPasswordAuthentication>true<", "<DisableSshPasswordAuthentication>yes<", StringComparison.Ordinal);

        Assert.False(OvfEnvironment.Parse(Utf8(xml)).DisableSshPasswordAuthentication);
    }

    [Fact]
    public void Ignores_an_element_named_DisablePasswordAuthentication_without_Ssh()
    {
        var xml = Fixtures.OvfEnv.Replace("DisableSshPasswordAuthentication", "DisablePasswordAuthentication", StringComparison.Ordinal);

        Assert.False(OvfEnvironment.Parse(Utf8(xml)).DisableSshPasswordAuthentication);
    }

    [Fact]
    public void Missing_HostName_is_a_clear_error_naming_the_element()
    {
        var xml = Fixtures.OvfEnv.Replace("<HostName>latch-vm1</HostName>", "", StringComparison.Ordinal);

        var error = Assert.Throws<AzureFormatException>(() => OvfEnvironment.Parse(Utf8(xml)));

        Assert.Contains("<HostName>", error.Message, StringComparison.Ordinal);
        Assert.Contains("LinuxProvisioningConfigurationSet", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Elements_in_the_wrong_namespace_are_not_accepted()
    {
        var xml = Fixtures.OvfEnv.Replace("xmlns=\"http://schemas.microsoft.com/windowsazure\" xmlns:i", "xmlns=\"urn:other\" xmlns:i", StringComparison.Ordinal);

        var error = Assert.Throws<AzureFormatException>(() => OvfEnvironment.Parse(Utf8(xml)));

        Assert.Contains("LinuxProvisioningConfigurationSet", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_platform_section_leaves_ProvisionGuestAgent_unknown()
    {
        var start = Fixtures.OvfEnv.IndexOf("<wa:PlatformSettingsSection>", StringComparison.Ordinal);
        var end = Fixtures.OvfEnv.IndexOf("</Environment>", StringComparison.Ordinal);
        var xml = Fixtures.OvfEnv[..start] + Fixtures.OvfEnv[end..];

        Assert.Null(OvfEnvironment.Parse(Utf8(xml)).ProvisionGuestAgent);
    }

    [Fact]
    public void Invalid_custom_data_fails_only_when_decoded()
    {
        var xml = Fixtures.OvfEnv.Replace("I2Nsb3VkLWNvbmZpZwpydW5jbWQ6IFtbdHJ1ZV1d", "CustomData!", StringComparison.Ordinal);
        var ovf = OvfEnvironment.Parse(Utf8(xml));

        var error = Assert.Throws<AzureFormatException>(() => ovf.DecodeCustomData());

        Assert.Contains("<CustomData>", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_an_external_entity_that_reads_a_local_file()
    {
        var secretFile = Path.Combine(Path.GetTempPath(), $"latch-xxe-{Guid.NewGuid():N}.txt");
        File.WriteAllText(secretFile, "TOP-SECRET-CONTENT");
        try
        {
            var xml = $"""
                <?xml version="1.0"?>
                <!DOCTYPE Environment [ <!ENTITY xxe SYSTEM "file://{secretFile}"> ]>
                """ + Fixtures.OvfEnv[(Fixtures.OvfEnv.IndexOf("?>", StringComparison.Ordinal) + 2)..].Replace("<HostName>latch-vm1<", "<HostName>&xxe;<", StringComparison.Ordinal);

            var error = Assert.Throws<AzureFormatException>(() => OvfEnvironment.Parse(Utf8(xml)));

            Assert.Contains("DTD", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("TOP-SECRET", error.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(secretFile);
        }
    }

    [Fact]
    public void Refuses_a_billion_laughs_document()
    {
        var entities = new StringBuilder("<!ENTITY lol0 \"lol\">");
        for (var i = 1; i <= 9; i++)
        {
            entities.Append($"<!ENTITY lol{i} \"{string.Concat(Enumerable.Repeat($"&lol{i - 1};", 10))}\">");
        }

        var xml = $"<?xml version=\"1.0\"?><!DOCTYPE Environment [{entities}]><Environment xmlns=\"http://schemas.dmtf.org/ovf/environment/1\">&lol9;</Environment>";

        var error = Assert.Throws<AzureFormatException>(() => OvfEnvironment.Parse(Utf8(xml)));

        Assert.Contains("DTD", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_a_ten_megabyte_document_without_parsing_it()
    {
        var padding = new string(' ', 10 * 1024 * 1024);
        var xml = Fixtures.OvfEnv.Replace("</Environment>", padding + "</Environment>", StringComparison.Ordinal);

        var fromStream = Assert.Throws<AzureFormatException>(() => OvfEnvironment.Parse(new MemoryStream(Utf8(xml))));
        var fromBytes = Assert.Throws<AzureFormatException>(() => OvfEnvironment.Parse(Utf8(xml)));

        Assert.Contains("limit", fromStream.Message, StringComparison.Ordinal);
        Assert.Contains("limit", fromBytes.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_xml_names_the_position()
    {
        var xml = Fixtures.OvfEnv.Replace("</HostName>", "</Hostname>", StringComparison.Ordinal);

        var error = Assert.Throws<AzureFormatException>(() => OvfEnvironment.Parse(Utf8(xml)));

        Assert.Contains("not well-formed", error.Message, StringComparison.Ordinal);
        Assert.Contains("line", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_root_element_is_named()
    {
        var error = Assert.Throws<AzureFormatException>(() => OvfEnvironment.Parse(Utf8("<GoalState/>")));

        Assert.Contains("<GoalState>", error.Message, StringComparison.Ordinal);
    }
}
