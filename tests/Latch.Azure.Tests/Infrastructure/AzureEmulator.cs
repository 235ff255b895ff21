using Latch.Emulator;
using Latch.Emulator.State;
using Latch.Testing;

namespace Latch.Azure.Tests.Infrastructure;

/// <summary>
/// The real emulator in-process (every endpoint on 127.0.0.1:0, Key Vault and ARM over HTTPS with the emulator's CA)
/// with a scenario for the Key Vault, ARM and identity clients, and client options that trust that CA — never
/// "accept any certificate".
/// </summary>
internal sealed class AzureEmulator : IAsyncDisposable
{
    public const string Subscription = "6f1c1f53-8d0b-4bd4-9d6a-0d5f1d9f2a10";
    public const string Tenant = "0e0c7b52-3f46-4e0f-9d38-5a1f4f7d3c21";
    public const string WebVmPrincipal = "a4a5d2f0-6c1e-4b0b-8f55-3a7e2c9d1b01";
    public const string OperatorClientId = "5b9e0c1d-2f3a-4b5c-8d6e-7f8091a2b3c4";
    public const string OperatorPrincipal = "c0ffee00-1111-4222-8333-444455556666";
    public const string OperatorSecret = "op-secret-never-printed";
    public const string IntruderClientId = "0badc0de-0000-4000-8000-000000000bad";
    public const string IntruderSecret = "intruder-secret-never-printed";
    public const string Vault = "latch-kv";

    /// <summary>nbf and exp of the seeded <c>alice-key</c> secret.</summary>
    public static readonly DateTimeOffset AliceNotBefore = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset AliceExpires = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private AzureEmulator(EmulatorHost host) => Host = host;

    public EmulatorHost Host { get; }

    public EmulatorState State => Host.State;

    public static Scenario DefaultScenario(IReadOnlyList<string>? exec = null) => new()
    {
        SubscriptionId = Subscription,
        TenantId = Tenant,
        Vms =
        [
            new VmDefinition
            {
                Name = "vm-web",
                ResourceGroup = "rg-web",
                Location = "westeurope",
                VmId = "3d2c1b0a-9f8e-4d7c-8b6a-5f4e3d2c1b0a",
                VmSize = "Standard_B2s",
                AdminUsername = "azureuser",
                PrincipalId = WebVmPrincipal,
                PrivateIpAddress = "169.254.10.4",
                // documentation range (RFC 5737): a value in a document, never dialled
                PublicIpAddress = "203.0.113.10",
                Tags = new Dictionary<string, string> { ["role"] = "web", ["latch"] = "on" },
                SecurityRules =
                [
                    new SecurityRuleDefinition { Name = "deny-telnet", Priority = 200, Access = "Deny", DestinationPortRange = "23" },
                    new SecurityRuleDefinition { Name = "ssh-from-office", Priority = 100, SourceAddressPrefix = "198.51.100.0/24" },
                ],
                Exec = exec ?? [],
            },
            new VmDefinition
            {
                Name = "vm-db",
                ResourceGroup = "rg-db",
                VmId = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
                AdminUsername = "dbadmin",
                PrivateIpAddress = "169.254.20.5",
            },
        ],
        Vaults =
        [
            new VaultDefinition
            {
                Name = Vault,
                ResourceGroup = "rg-web",
                AllowedPrincipals = [WebVmPrincipal, OperatorPrincipal],
                Secrets =
                [
                    new SecretDefinition
                    {
                        Name = "alice-key",
                        Value = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDPkF5VHRonIwWDx4J8dlx4vadF5+3dWZok5Cb9jWB6b alice@test",
                        ContentType = "application/x-ssh-key",
                        NotBefore = AliceNotBefore,
                        Expires = AliceExpires,
                        Tags = new Dictionary<string, string> { ["latch"] = "managed", ["user"] = "alice" },
                    },
                    new SecretDefinition { Name = "retired-key", Value = "ssh-ed25519 retired", Enabled = false, Tags = new Dictionary<string, string> { ["latch"] = "retired" } },
                ],
            },
        ],
        ServicePrincipals =
        [
            new ServicePrincipalDefinition { ClientId = OperatorClientId, ClientSecret = OperatorSecret, PrincipalId = OperatorPrincipal },
            new ServicePrincipalDefinition { ClientId = IntruderClientId, ClientSecret = IntruderSecret },
        ],
    };

    public static async Task<AzureEmulator> StartAsync(TimeSpan runCommandLatency = default, Scenario? scenario = null) =>
        new(await EmulatorHost.StartAsync(
            new EmulatorOptions { Scenario = scenario ?? DefaultScenario(), RunCommandLatency = runCommandLatency },
            TestContext.Current.CancellationToken));

    public static string VmResourceId(string resourceGroup, string name) =>
        $"/subscriptions/{Subscription}/resourceGroups/{resourceGroup}/providers/Microsoft.Compute/virtualMachines/{name}";

    /// <inheritdoc cref="EmulatorTesting.AddFault"/>
    public string Fault(string spec) => EmulatorTesting.AddFault(State, spec);

    /// <inheritdoc cref="EmulatorTesting.HitBy"/>
    public IReadOnlyList<RequestRecord> HitBy(string fault) => EmulatorTesting.HitBy(State, fault);

    /// <summary>The requests of one endpoint group, oldest first.</summary>
    public IReadOnlyList<RequestRecord> Requests(string group) => [.. State.Requests.Where(r => r.Group == group)];

    /// <summary>
    /// The requests of one group once <paramref name="ready"/> holds for them. The emulator logs a request just after
    /// answering it, so a client can be done before its last request shows up: wait (bounded), then let the caller's
    /// assertions say what is missing.
    /// </summary>
    public async Task<IReadOnlyList<RequestRecord>> LoggedAsync(string group, Func<IReadOnlyList<RequestRecord>, bool> ready)
    {
        try
        {
            await EmulatorTesting.EventuallyAsync(() => ready(Requests(group)));
        }
        catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            // not there in time: the caller's assertions say what is missing
        }

        return Requests(group);
    }

    /// <summary>The request one fault hit and the request that came after it in the same group (waiting for both to be logged).</summary>
    public async Task<(RequestRecord Hit, RequestRecord Next)> HitAndNextAsync(string group, string fault)
    {
        await FaultWasHitAsync(fault);
        var hit = HitBy(fault)[0];
        var requests = (await LoggedAsync(group, r => r.Count(x => x.Time >= hit.Time && x != hit) >= 1)).ToList();
        var index = requests.IndexOf(hit);
        Assert.True(index >= 0 && index + 1 < requests.Count, $"no {group} request after the one fault {fault} hit");
        return (hit, requests[index + 1]);
    }

    /// <summary>The emulator records a request once it has answered it; wait (bounded) until a fault shows up there.</summary>
    public Task FaultWasHitAsync(string fault, int times = 1) => EmulatorTesting.FaultWasHitAsync(State, fault, times);

    public ImdsClientOptions Imds() => new()
    {
        BaseAddress = Host.Imds,
        PerCallTimeout = TimeSpan.FromSeconds(30),
        Retry = TestOptions.FastRetry(),
    };

    public KeyVaultSecretsClientOptions KeyVault(int maxAttempts = 6, double perCallSeconds = 30, double totalSeconds = 60) => new(Host.KeyVault)
    {
        CaCertificatePath = Host.CaCertificatePath,
        // the emulator's challenge names https://vault.azure.net while the vault listens on 127.0.0.1
        VerifyChallengeResource = false,
        PerCallTimeout = TimeSpan.FromSeconds(perCallSeconds),
        Retry = TestOptions.FastRetry(maxAttempts, totalSeconds),
    };

    public ArmClientOptions Arm(int maxAttempts = 6, double perCallSeconds = 30, double totalSeconds = 60, Microsoft.Extensions.Logging.ILogger? logger = null) => new()
    {
        BaseAddress = Host.Arm,
        CaCertificatePath = Host.CaCertificatePath,
        PerCallTimeout = TimeSpan.FromSeconds(perCallSeconds),
        Retry = TestOptions.FastRetry(maxAttempts, totalSeconds),
        PollInterval = TimeSpan.FromMilliseconds(20),
        Logger = logger,
    };

    /// <summary>The emulator's Entra token endpoint (on the ARM listener) as the authority host.</summary>
    public EntraClientOptions Entra() => new()
    {
        BaseAddress = Host.Arm,
        CaCertificatePath = Host.CaCertificatePath,
        PerCallTimeout = TimeSpan.FromSeconds(30),
        Retry = TestOptions.FastRetry(),
    };

    public ClientSecretCredential Operator() => new(Tenant, OperatorClientId, new Secret(OperatorSecret), Entra());

    public ValueTask DisposeAsync() => Host.DisposeAsync();
}
