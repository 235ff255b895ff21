using System.Security.Cryptography.X509Certificates;
using Latch.Emulator.State;
using Microsoft.AspNetCore.Builder;

namespace Latch.Emulator;

// ─── WIRING POINT: Key Vault, ARM, managed identity and TLS ───────────────────────────────────────────────────
// The only place EmulatorHost touches the endpoint groups built in KeyVault/, Arm/, Identity/ and Tls/. Each app
// passed in already runs the request log + fault middleware for its group ("keyvault", "arm", and "identity"
// for /metadata/identity/* on the IMDS app). The Key Vault and ARM listeners serve HTTPS with the emulator's CA.
public sealed partial class EmulatorHost
{
    private EmulatorCertificates? _certificates;
    private ArmState? _arm;
    private TokenIssuer? _tokens;

    /// <summary>TLS material for the HTTPS listeners: the server certificate (with key) and the CA's PEM path.</summary>
    internal sealed record EmulatorTls(X509Certificate2 ServerCertificate, string CaCertificatePath);

    /// <summary>Issues and checks every token (managed identity, Entra client credentials); shared by all groups.</summary>
    internal TokenIssuer Tokens => _tokens ??= new TokenIssuer(Options.Time, State.Scenario.TenantId);

    /// <summary>The emulated Key Vaults (secrets as they are now, including changes clients made).</summary>
    internal KeyVaultStore? KeyVaultStore { get; private set; }

    /// <summary>ARM's state: resource groups, VMs and run-command operations.</summary>
    internal ArmState? ArmState => _arm;

    private EmulatorTls CreateTls()
    {
        // the certificate covers localhost, loopback and *.vault.localhost, plus whatever the listeners bind
        (string Group, string? Endpoint)[] listeners = [("keyvault", Options.KeyVaultEndpoint), ("arm", Options.ArmEndpoint)];
        var names = listeners
            .Where(e => !string.IsNullOrWhiteSpace(e.Endpoint))
            .Select(e => ParseEndpoint(e.Group, e.Endpoint).Address.ToString());
        _certificates = EmulatorCertificates.Create(State.StateDirectory, names, Options.Time);
        return new EmulatorTls(_certificates.ServerCertificate, _certificates.CaCertificatePath);
    }

    private void MapKeyVault(WebApplication app)
    {
        KeyVaultStore = new KeyVaultStore(State.Scenario, Options.Time);
        app.MapKeyVault(KeyVaultStore, Tokens);
    }

    private void MapArm(WebApplication app)
    {
        _arm = new ArmState(State.Scenario, new ArmOptions { RunCommandLatency = Options.RunCommandLatency }, Options.Time);
        app.MapEntraTokenEndpoint(State.Scenario, Tokens);
        app.MapArm(_arm, Tokens);
    }

    private void MapIdentity(WebApplication imdsApp) =>
        imdsApp.MapManagedIdentity(context => State.ResolveVm(context.Connection.RemoteIpAddress)?.Definition, Tokens);

    private async ValueTask DisposePartnersAsync()
    {
        if (_arm is not null)
        {
            await _arm.DisposeAsync().ConfigureAwait(false);
        }

        _certificates?.Dispose();
    }
}
