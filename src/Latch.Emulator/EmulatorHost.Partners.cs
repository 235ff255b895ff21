using System.Security.Cryptography.X509Certificates;
using Latch.Emulator.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace Latch.Emulator;

// ─── WIRING POINT: Key Vault, ARM, managed identity and TLS ───────────────────────────────────────────────────
// These four methods are the only place EmulatorHost touches the endpoint groups built in KeyVault/, Arm/,
// Identity/ and Tls/. Each app passed in already runs the request log + fault middleware for its group
// ("keyvault", "arm", and "identity" for /metadata/identity/* on the IMDS app). When CreateTls returns a
// certificate, the Key Vault and ARM listeners serve HTTPS with it and CaCertificatePath is published.
public sealed partial class EmulatorHost
{
    /// <summary>TLS material for the HTTPS listeners: the server certificate (with key) and the CA's PEM path.</summary>
    internal sealed record EmulatorTls(X509Certificate2 ServerCertificate, string CaCertificatePath);

    // Not wired yet: return the Tls/ helper's certificate here (e.g. EmulatorCertificates.Create(state.StateDirectory, …)).
    private static EmulatorTls? CreateTls(EmulatorState state, ILoggerFactory loggerFactory)
    {
        _ = state;
        _ = loggerFactory;
        return null;
    }

    // Not wired yet: app.MapKeyVault(state) from KeyVault/.
    private static void MapKeyVault(WebApplication app, EmulatorState state)
    {
        _ = app;
        _ = state;
    }

    // Not wired yet: app.MapArm(state) from Arm/.
    private static void MapArm(WebApplication app, EmulatorState state)
    {
        _ = app;
        _ = state;
    }

    // Not wired yet: imdsApp.MapManagedIdentity(state) from Identity/.
    private static void MapIdentity(WebApplication imdsApp, EmulatorState state)
    {
        _ = imdsApp;
        _ = state;
    }
}
