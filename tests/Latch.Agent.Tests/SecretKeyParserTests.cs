using Latch.Agent.KeyVaultPull;
using Latch.Testing;

namespace Latch.Agent.Tests;

public sealed class SecretKeyParserTests
{
    private static string Blob(string publicLine) => publicLine.Split(' ')[0] + " " + publicLine.Split(' ')[1];

    [Theory]
    [InlineData("ed25519")]
    [InlineData("rsa")]
    [InlineData("ecdsa")]
    public void OpenSsh_private_key_yields_the_same_public_key_as_ssh_keygen(string type)
    {
        Requires.Tool("ssh-keygen", "openssh-client");
        var (privatePath, publicLine) = GeneratedKeys.Make("secret-openssh-" + type, type);

        Assert.True(SecretKeyParser.TryParse(File.ReadAllText(privatePath), "latch-vm1-key", out var key, out var error), error);

        Assert.Equal(Blob(publicLine), Blob(key!.ToLine()));
        Assert.Equal("latch-vm1-key", key.Comment);
    }

    [Fact]
    public void Pem_rsa_keys_in_pkcs1_and_pkcs8_yield_the_public_key()
    {
        Requires.Tool("openssl");
        var dir = Directory.CreateTempSubdirectory("latch-pem-").FullName;
        try
        {
            TestDirectory.Run("openssl", "genpkey", "-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:2048", "-out", dir + "/p8.pem");
            TestDirectory.Run("openssl", "rsa", "-in", dir + "/p8.pem", "-traditional", "-out", dir + "/p1.pem");
            File.SetUnixFileMode(dir + "/p8.pem", UnixFileMode.UserRead | UnixFileMode.UserWrite);
            var expected = Blob(TestDirectory.Run("ssh-keygen", "-y", "-f", dir + "/p8.pem").Trim());

            foreach (var file in new[] { "p8.pem", "p1.pem" })
            {
                Assert.True(SecretKeyParser.TryParse(File.ReadAllText(dir + "/" + file), "k", out var key, out var error), error);
                Assert.Equal(expected, Blob(key!.ToLine()));
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Pem_ed25519_private_key_yields_the_public_key_openssl_derives()
    {
        Requires.Tool("openssl");
        var dir = Directory.CreateTempSubdirectory("latch-pem-").FullName;
        try
        {
            for (var i = 0; i < 5; i++)
            {
                TestDirectory.Run("openssl", "genpkey", "-algorithm", "ed25519", "-out", dir + "/ed.pem");
                TestDirectory.Run("openssl", "pkey", "-in", dir + "/ed.pem", "-pubout", "-outform", "DER", "-out", dir + "/ed.der");
                var raw = File.ReadAllBytes(dir + "/ed.der")[^32..];

                Assert.True(SecretKeyParser.TryParse(File.ReadAllText(dir + "/ed.pem"), "k", out var key, out var error), error);
                Assert.Equal("ssh-ed25519", key!.Type);
                Assert.Equal(raw, key.Blob.Span[^32..].ToArray());
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Public_key_line_is_taken_as_it_is_with_the_secret_name_as_comment()
    {
        var line = GeneratedKeys.Make("secret-public").PublicLine;

        Assert.True(SecretKeyParser.TryParse(line + "\n", "latch-vm1-key", out var key, out _));

        Assert.Equal(Blob(line) + " latch-vm1-key", key!.ToLine());
    }

    [Theory]
    [InlineData("not a key")]
    [InlineData("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----")]
    [InlineData("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----")]
    [InlineData("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIP/+/////wAAAA==\n-----END PRIVATE KEY-----")]
    public void Unusable_values_are_refused_without_quoting_them(string value)
    {
        Assert.False(SecretKeyParser.TryParse(value, "k", out _, out var error));

        Assert.False(string.IsNullOrEmpty(error));
        Assert.DoesNotContain("AAAA", error, StringComparison.Ordinal);
        Assert.DoesNotContain("MC4C", error, StringComparison.Ordinal);
    }
}
