using Latch.Azure.Tests.Infrastructure;
using Latch.Core;

namespace Latch.Azure.Tests;

/// <summary>
/// Every Latch.Azure client against every fault kind the emulator injects, over real sockets: a fault that clears is
/// survived (or, where retrying would be wrong, ends at once in a clear error), and a fault that never clears ends in a
/// clear error naming the endpoint after a bounded number of requests, or at the total deadline.
/// The run-command POST (sent at most once) has its own fault tests in RunCommandEmulatorTests; here run-command is its
/// polling, which is safe to repeat.
/// </summary>
public sealed class FaultMatrixTests
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;
    private static readonly string VmId = AzureEmulator.VmResourceId("rg-web", "vm-web");

    public static readonly TheoryData<string> Clients = ["imds", "identity", "goal-state", "health", "provisioning-health", "keyvault", "entra", "arm", "run-command-polling"];

    /// <summary>Kinds with the value each takes when it clears after one hit (count=1 is added).</summary>
    public static readonly TheoryData<string> TransientKinds = ["latency=300", "status=500", "status=503", "gone", "throttle=0", "reset", "lost", "timeout=20000", "truncate", "malformed"];

    /// <summary>Kinds that never clear: latency beyond the per-call deadline, Retry-After 1 s.</summary>
    public static readonly TheoryData<string> PersistentKinds = ["latency=4000", "status=500", "status=503", "gone", "throttle=1", "reset", "lost", "timeout=20000", "truncate", "malformed"];

    public static TheoryData<string, string> Transient => Cross(TransientKinds);

    public static TheoryData<string, string> Persistent => Cross(PersistentKinds);

    private static TheoryData<string, string> Cross(TheoryData<string> kinds)
    {
        var data = new TheoryData<string, string>();
        foreach (var client in Clients)
        {
            foreach (var kind in kinds)
            {
                data.Add((string)client.Data, (string)kind.Data);
            }
        }

        return data;
    }

    /// <summary>The fault target (GROUP[,path=PREFIX]) that reaches only this client's requests.</summary>
    private static string Target(string client) => client switch
    {
        "imds" => "imds,path=/metadata/instance",
        "identity" => "identity",
        "goal-state" => "wireserver,path=/machine/",
        // the XML health report posts to /machine?comp=health (and re-reads the goal state at /machine/ after a 410)
        "health" => "wireserver,path=/machine",
        "provisioning-health" => "wireserver,path=/provisioning",
        "keyvault" => "keyvault",
        "entra" => "arm,path=/" + AzureEmulator.Tenant,
        "arm" => "arm,path=/subscriptions/" + AzureEmulator.Subscription + "/providers/Microsoft.Compute/virtualMachines",
        "run-command-polling" => "arm,path=/subscriptions/" + AzureEmulator.Subscription + "/providers/Microsoft.Compute/locations",
        _ => throw new ArgumentOutOfRangeException(nameof(client), client, null),
    };

    /// <summary>The name each client's errors start with.</summary>
    private static string EndpointName(string client) => client switch
    {
        "imds" => "IMDS",
        "identity" => "IMDS managed identity",
        "goal-state" or "health" or "provisioning-health" => "WireServer",
        "keyvault" => "Key Vault",
        "entra" => "Entra",
        _ => "ARM",
    };

    /// <summary>410 means "retry" only to IMDS and the WireServer; to Key Vault, Entra and ARM it is a final answer.</summary>
    private static bool RetriesGone(string client) => client is "imds" or "identity" or "goal-state" or "health" or "provisioning-health";

    private static string Spec(string client, string kind, int? count)
    {
        var comma = Target(client).IndexOf(',', StringComparison.Ordinal);
        var (group, path) = comma < 0 ? (Target(client), "") : (Target(client)[..comma], Target(client)[comma..]);
        return $"{group}:{kind}{path}{(count is { } c ? ",count=" + c.ToString(System.Globalization.CultureInfo.InvariantCulture) : "")}";
    }

    private static RetryOptions Retry(int maxAttempts, double totalSeconds) => TestOptions.FastRetry(maxAttempts, totalSeconds);

    /// <summary>Runs one call of the client against the emulator with the given limits; returns a short description of the result.</summary>
    private static async Task<string> CallAsync(AzureEmulator emulator, string client, int maxAttempts, double perCallSeconds, double totalSeconds, Func<Task> armFault, CancellationToken? cancellationToken = null)
    {
        var callToken = cancellationToken ?? Ct;
        var perCall = TimeSpan.FromSeconds(perCallSeconds);
        var retry = Retry(maxAttempts, totalSeconds);
        var imdsOptions = new ImdsClientOptions { BaseAddress = emulator.Host.Imds, PerCallTimeout = perCall, Retry = retry };
        var wireOptions = new WireServerClientOptions { BaseAddress = emulator.Host.WireServer, PerCallTimeout = perCall, Retry = retry, AgentName = "LatchTest" };
        var entraOptions = new EntraClientOptions { BaseAddress = emulator.Host.Arm, CaCertificatePath = emulator.Host.CaCertificatePath, PerCallTimeout = perCall, Retry = retry };
        switch (client)
        {
            case "imds":
            {
                using var imds = new ImdsClient(imdsOptions);
                await armFault();
                return (await imds.GetInstanceAsync(callToken)).Compute.Name;
            }

            case "identity":
            {
                using var identity = new ManagedIdentityCredential(imdsOptions);
                await armFault();
                return (await identity.GetTokenAsync("https://vault.azure.net", callToken)).ExpiresOn > DateTimeOffset.UnixEpoch ? "token" : "expired token";
            }

            case "goal-state":
            {
                using var wire = new WireServerClient(wireOptions);
                await armFault();
                return (await wire.GetGoalStateAsync(callToken)).Incarnation;
            }

            case "health":
            {
                using var wire = new WireServerClient(wireOptions);
                var goalState = await wire.GetGoalStateAsync(callToken);
                await armFault();
                return (await wire.ReportHealthAsync(goalState, HealthReport.Ready, callToken)).Incarnation;
            }

            case "provisioning-health":
            {
                using var wire = new WireServerClient(wireOptions);
                await armFault();
                await wire.ReportProvisioningHealthJsonAsync(HealthReport.Ready, callToken);
                return "reported";
            }

            case "keyvault":
            {
                // the token comes from the emulator's IMDS identity, which this fault does not touch
                using var identity = new ManagedIdentityCredential(emulator.Imds());
                using var vault = new KeyVaultSecretsClient(emulator.KeyVault(maxAttempts, perCallSeconds, totalSeconds), (resource, ct) => identity.GetTokenAsync(resource, ct));
                await armFault();
                return (await vault.GetSecretAsync("alice-key", cancellationToken: callToken))?.Properties.Name ?? "missing";
            }

            case "entra":
            {
                using var entra = new ClientSecretCredential(AzureEmulator.Tenant, AzureEmulator.OperatorClientId, new Secret(AzureEmulator.OperatorSecret), entraOptions);
                await armFault();
                return (await entra.GetTokenAsync(ArmClient.Resource, callToken)).ExpiresOn > DateTimeOffset.UnixEpoch ? "token" : "expired token";
            }

            case "arm":
            {
                using var entra = emulator.Operator();
                using var arm = new ArmClient(emulator.Arm(maxAttempts, perCallSeconds, totalSeconds), ct => entra.GetTokenAsync(ArmClient.Resource, ct));
                await armFault();
                return string.Join(",", (await arm.ListVirtualMachinesAsync(AzureEmulator.Subscription, cancellationToken: callToken)).Select(v => v.Name).Order(StringComparer.Ordinal));
            }

            case "run-command-polling":
            {
                using var entra = emulator.Operator();
                using var runCommand = new RunCommandClient(emulator.Arm(maxAttempts, perCallSeconds, totalSeconds), ct => entra.GetTokenAsync(ArmClient.Resource, ct));
                await armFault();
                var result = await runCommand.RunShellScriptAsync(VmId, ["echo polled"], null, TimeSpan.FromMinutes(2), callToken);
                return result.Succeeded ? result.Stdout.Trim() : "failed: " + result.Message;
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(client), client, null);
        }
    }

    private static string Expected(string client) => client switch
    {
        "imds" or "arm" => client == "imds" ? "vm-web" : "vm-db,vm-web",
        "identity" or "entra" => "token",
        "goal-state" or "health" => "1",
        "provisioning-health" => "reported",
        "keyvault" => "alice-key",
        "run-command-polling" => "polled",
        _ => throw new ArgumentOutOfRangeException(nameof(client), client, null),
    };

    [Theory]
    [MemberData(nameof(Transient))]
    public async Task Each_client_survives_each_fault_kind_once_it_clears(string client, string kind)
    {
        await using var emulator = await AzureEmulator.StartAsync();
        var spec = Spec(client, kind, count: 1);
        string? fault = null;

        // per call 2 s: the timeout fault (held 20 s) must end in a per-call deadline, the 300 ms latency must not
        var call = CallAsync(emulator, client, maxAttempts: 4, perCallSeconds: 2, totalSeconds: 60, () =>
        {
            fault = emulator.Fault(spec);
            return Task.CompletedTask;
        });

        if (kind == "gone" && !RetriesGone(client))
        {
            var error = await Assert.ThrowsAsync<AzureRequestException>(() => call);
            Assert.Equal(410, error.Status);
            Assert.Contains(EndpointName(client), error.Message, StringComparison.Ordinal);
            Assert.Contains("410", error.Message, StringComparison.Ordinal);
            Assert.Single(emulator.HitBy(fault!));
            return;
        }

        Assert.Equal(Expected(client), await call);
        await emulator.FaultWasHitAsync(fault!);
    }

    [Theory]
    [MemberData(nameof(Persistent))]
    public async Task Each_client_ends_a_fault_that_never_clears_with_a_clear_error_after_bounded_attempts(string client, string kind)
    {
        const int maxAttempts = 3;
        await using var emulator = await AzureEmulator.StartAsync();
        var spec = Spec(client, kind, count: null);
        string? fault = null;
        if (kind == "malformed" && client is "health" or "provisioning-health")
        {
            // a health report's answer has no body to read (Azure sends none): 200 with a broken body is a 200
            Assert.Equal(Expected(client), await CallAsync(emulator, client, maxAttempts, 1, 60, () =>
            {
                fault = emulator.Fault(spec);
                return Task.CompletedTask;
            }));
            await emulator.FaultWasHitAsync(fault!);
            return;
        }

        var error = await Assert.ThrowsAnyAsync<LatchException>(() => CallAsync(emulator, client, maxAttempts, perCallSeconds: 1, totalSeconds: 60, () =>
        {
            fault = emulator.Fault(spec);
            return Task.CompletedTask;
        }));

        Assert.Contains(EndpointName(client), error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(AzureEmulator.OperatorSecret, error.ToString(), StringComparison.Ordinal);
        // every request the client sent is answered and logged before the next one starts, or the last one has
        // already failed on the client's side; a short wait lets the emulator log that last one
        await emulator.FaultWasHitAsync(fault!);
        await Task.Delay(200, Ct);
        var hits = emulator.HitBy(fault!).Count;
        var bound = client == "health" && kind == "gone"
            // each 410 on the report re-reads the goal state (same path prefix), itself retried within its own bound
            ? maxAttempts * (maxAttempts + 1)
            : maxAttempts;
        Assert.InRange(hits, 1, bound);
        if (error is AzureRequestException { Attempts: > 0 } request)
        {
            Assert.InRange(request.Attempts, 1, maxAttempts);
        }
    }

    [Theory]
    [MemberData(nameof(Clients))]
    public async Task Each_client_stops_at_its_total_deadline_when_the_endpoint_hangs(string client)
    {
        await using var emulator = await AzureEmulator.StartAsync();

        // attempts are plenty; only the 3 s total deadline can end this
        var error = await Assert.ThrowsAnyAsync<LatchException>(() => CallAsync(emulator, client, maxAttempts: 1000, perCallSeconds: 1, totalSeconds: 3, () =>
        {
            emulator.Fault(Spec(client, "timeout=60000", count: null));
            return Task.CompletedTask;
        }));

        Assert.Contains(EndpointName(client), error.Message, StringComparison.Ordinal);
        Assert.Contains("deadline", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Clients))]
    public async Task Each_client_stops_when_its_caller_cancels_and_says_so_with_an_OperationCanceledException(string client)
    {
        await using var emulator = await AzureEmulator.StartAsync();
        using var caller = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        // the endpoint hangs and the limits are far away: only the caller's cancellation can end this call
        var call = CallAsync(emulator, client, maxAttempts: 1000, perCallSeconds: 60, totalSeconds: 600, () =>
        {
            emulator.Fault(Spec(client, "timeout=120000", count: null));
            caller.CancelAfter(TimeSpan.FromMilliseconds(300));
            return Task.CompletedTask;
        }, caller.Token);

        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        Assert.True(caller.IsCancellationRequested);
        Assert.False(Ct.IsCancellationRequested);
    }
}
