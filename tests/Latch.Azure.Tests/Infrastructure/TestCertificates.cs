using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Latch.Azure.Tests.Infrastructure;

/// <summary>A throw-away CA and a localhost server certificate it signed; the CA PEM is written to a temp file.</summary>
internal sealed class TestCertificates : IDisposable
{
    public TestCertificates()
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=Latch Test CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        var now = DateTimeOffset.UtcNow;
        Ca = caRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(7));

        using var leafKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var leafRequest = new CertificateRequest("CN=localhost", leafKey, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        leafRequest.CertificateExtensions.Add(san.Build());
        leafRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var signed = leafRequest.Create(Ca, now.AddDays(-1), now.AddDays(7), [1, 2, 3, 4, 5, 6, 7, 8]);
        using var withKey = signed.CopyWithPrivateKey(leafKey);
        // round-trip through PKCS#12 so SslStream on Linux gets a key it can use for the handshake
        Server = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);

        CaPath = Path.Combine(Path.GetTempPath(), $"latch-test-ca-{Guid.NewGuid():N}.pem");
        File.WriteAllText(CaPath, Ca.ExportCertificatePem());
    }

    public X509Certificate2 Ca { get; }

    public X509Certificate2 Server { get; }

    public string CaPath { get; }

    public void Dispose()
    {
        File.Delete(CaPath);
        Ca.Dispose();
        Server.Dispose();
    }
}
