using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Latch.Emulator;

/// <summary>
/// The emulator's TLS material: a per-run self-signed CA and a server certificate it signs for the
/// emulator's host names and addresses. Only the CA certificate (public) is written to disk, as
/// <c>ca.pem</c> in the state directory, so clients can trust the emulator without disabling validation.
/// Private keys stay in memory and are gone when the process ends.
/// </summary>
internal sealed class EmulatorCertificates : IDisposable
{
    public const string CaFileName = "ca.pem";

    // Names every emulator certificate covers; "*.vault.localhost" lets Key Vault clients address a vault by
    // host name (latch-demo-kv.vault.localhost), which is how the emulator selects a vault.
    private static readonly string[] s_alwaysCovered = ["localhost", "*.vault.localhost", "vault.localhost", "127.0.0.1", "::1"];

    private EmulatorCertificates(X509Certificate2 authority, X509Certificate2 server, string caPath)
    {
        CaCertificate = authority;
        ServerCertificate = server;
        CaCertificatePath = caPath;
    }

    /// <summary>The CA certificate, public part only.</summary>
    public X509Certificate2 CaCertificate { get; }

    /// <summary>The server certificate with its private key, for Kestrel's <c>ListenOptions.UseHttps</c>.</summary>
    public X509Certificate2 ServerCertificate { get; }

    /// <summary>Where the CA certificate was written (PEM), for clients to trust.</summary>
    public string CaCertificatePath { get; }

    public static EmulatorCertificates Create(string stateDirectory, IEnumerable<string> hostNamesOrAddresses, TimeProvider time)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(stateDirectory);
        ArgumentNullException.ThrowIfNull(hostNamesOrAddresses);
        ArgumentNullException.ThrowIfNull(time);

        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in s_alwaysCovered.Concat(hostNamesOrAddresses).Select(n => n.Trim()).Where(n => n.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase))
        {
            // a wildcard bind address is not a name a client connects to; the loopback entries cover local use
            if (name is "0.0.0.0" or "::" or "*" or "+")
            {
                continue;
            }
            if (IPAddress.TryParse(name.Trim('[', ']'), out var address))
            {
                san.AddIpAddress(address);
            }
            else
            {
                san.AddDnsName(name);
            }
        }

        var now = time.GetUtcNow();
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=Latch Emulator CA, O=Latch", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        var caSki = new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, critical: false);
        caRequest.CertificateExtensions.Add(caSki);
        using var caWithKey = caRequest.CreateSelfSigned(now.AddHours(-1), now.AddYears(1));

        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var serverRequest = new CertificateRequest("CN=latch-emulator", serverKey, HashAlgorithmName.SHA256);
        serverRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, critical: true));
        serverRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1", "Server Authentication")], critical: false));
        serverRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(serverRequest.PublicKey, critical: false));
        serverRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromSubjectKeyIdentifier(caSki));
        serverRequest.CertificateExtensions.Add(san.Build());
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using var serverPublic = serverRequest.Create(caWithKey, now.AddHours(-1), now.AddDays(90), serial);
        using var serverEphemeral = serverPublic.CopyWithPrivateKey(serverKey);
        // Round-trip through PKCS#12 so the key is usable by SslStream independent of how it was generated.
        var server = X509CertificateLoader.LoadPkcs12(serverEphemeral.Export(X509ContentType.Pkcs12), password: null);

        var authority = X509CertificateLoader.LoadCertificate(caWithKey.RawData);
        Directory.CreateDirectory(stateDirectory);
        var caPath = Path.Combine(Path.GetFullPath(stateDirectory), CaFileName);
        WritePublicFile(caPath, authority.ExportCertificatePem() + "\n");
        return new EmulatorCertificates(authority, server, caPath);
    }

    public void Dispose()
    {
        CaCertificate.Dispose();
        ServerCertificate.Dispose();
    }

    private static void WritePublicFile(string path, string contents)
    {
        // write-then-rename so a client never reads a half-written CA
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, contents);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }
        File.Move(temporary, path, overwrite: true);
    }
}
