using System.Security.Cryptography.X509Certificates;

namespace Latch.Emulator.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class EmulatorCertificatesTests : IDisposable
{
    private readonly string _state = Directory.CreateTempSubdirectory("latch-certs-test-").FullName;

    public void Dispose() => Directory.Delete(_state, recursive: true);

    [Fact]
    public void Writes_only_the_public_ca_certificate_world_readable()
    {
        using var certificates = EmulatorCertificates.Create(_state, ["0.0.0.0", "emulator.test"], TimeProvider.System);

        Assert.Equal([Path.Combine(_state, "ca.pem")], Directory.GetFiles(_state));
        var pem = File.ReadAllText(certificates.CaCertificatePath);
        Assert.Contains("BEGIN CERTIFICATE", pem, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", pem, StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(certificates.CaCertificatePath));
        Assert.True(certificates.ServerCertificate.HasPrivateKey);
    }

    [Fact]
    public void The_server_certificate_chains_to_the_ca_and_names_loopback_and_given_hosts()
    {
        using var certificates = EmulatorCertificates.Create(_state, ["emulator.test", "169.254.9.9"], TimeProvider.System);
        using var authority = X509Certificate2.CreateFromPem(File.ReadAllText(certificates.CaCertificatePath));
        using var chain = new X509Chain
        {
            ChainPolicy = { TrustMode = X509ChainTrustMode.CustomRootTrust, CustomTrustStore = { authority }, RevocationMode = X509RevocationMode.NoCheck },
        };

        Assert.True(chain.Build(certificates.ServerCertificate), string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation)));
        foreach (var name in new[] { "localhost", "127.0.0.1", "::1", "emulator.test", "169.254.9.9", "latch-demo-kv.vault.localhost" })
        {
            Assert.True(certificates.ServerCertificate.MatchesHostname(name), $"the certificate does not cover {name}");
        }
        Assert.False(certificates.ServerCertificate.MatchesHostname("example.com"));
    }

    [Fact]
    public void An_unrelated_ca_does_not_validate_the_server_certificate()
    {
        using var ours = EmulatorCertificates.Create(_state, [], TimeProvider.System);
        var otherState = Path.Combine(_state, "other");
        using var other = EmulatorCertificates.Create(otherState, [], TimeProvider.System);
        using var chain = new X509Chain
        {
            ChainPolicy = { TrustMode = X509ChainTrustMode.CustomRootTrust, CustomTrustStore = { other.CaCertificate }, RevocationMode = X509RevocationMode.NoCheck },
        };

        Assert.False(chain.Build(ours.ServerCertificate));
    }
}
