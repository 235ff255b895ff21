using Latch.Azure.Tests.Infrastructure;

namespace Latch.Azure.Tests;

/// <summary>
/// ArmClient against the emulator's ARM over HTTPS (trusting only the emulator's CA), with an operator token from the
/// emulator's Entra endpoint (client credentials of a scenario service principal), and every fault kind.
/// </summary>
public sealed class ArmEmulatorTests : IAsyncLifetime
{
    private const string Sub = AzureEmulator.Subscription;
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;
    private AzureEmulator _emulator = null!;
    private ClientSecretCredential _operator = null!;

    public async ValueTask InitializeAsync()
    {
        _emulator = await AzureEmulator.StartAsync();
        _operator = _emulator.Operator();
    }

    public async ValueTask DisposeAsync()
    {
        _operator.Dispose();
        await _emulator.DisposeAsync();
    }

    private ArmClient Client(int maxAttempts = 6, double perCallSeconds = 30, double totalSeconds = 60, Microsoft.Extensions.Logging.ILogger? logger = null) =>
        new(_emulator.Arm(maxAttempts, perCallSeconds, totalSeconds, logger), ct => _operator.GetTokenAsync(ArmClient.Resource, ct));

    [Fact]
    public async Task An_operator_token_from_entra_lists_the_vms_of_the_subscription_and_of_a_resource_group()
    {
        using var client = Client();

        var all = await client.ListVirtualMachinesAsync(Sub, cancellationToken: Ct);
        var web = await client.ListVirtualMachinesAsync(Sub, "rg-web", Ct);

        Assert.Equal(["vm-db", "vm-web"], all.Select(v => v.Name).Order(StringComparer.Ordinal));
        var vm = Assert.Single(web);
        Assert.Equal(AzureEmulator.VmResourceId("rg-web", "vm-web"), vm.Id);
        Assert.Equal(Sub, vm.SubscriptionId);
        Assert.Equal("rg-web", vm.ResourceGroup);
        Assert.Equal("westeurope", vm.Location);
        Assert.Equal("3d2c1b0a-9f8e-4d7c-8b6a-5f4e3d2c1b0a", vm.VmId);
        Assert.Equal("Standard_B2s", vm.VmSize);
        Assert.Equal("Linux", vm.OsType);
        Assert.Equal("azureuser", vm.AdminUsername);
        Assert.Equal("web", vm.Tags["role"]);
        Assert.EndsWith("/networkInterfaces/vm-web-nic", vm.PrimaryNetworkInterfaceId, StringComparison.Ordinal);
        // one client-credentials token, for ARM, shared by both calls
        Assert.Single(_emulator.Requests("arm"), r => r.Method == "POST" && r.Path.StartsWith($"/{AzureEmulator.Tenant}/oauth2/v2.0/token", StringComparison.Ordinal));
        Assert.All(_emulator.Requests("arm").Where(r => r.Path.StartsWith("/subscriptions", StringComparison.Ordinal)), r => Assert.Equal(200, r.Status));
    }

    [Fact]
    public async Task Gets_a_vm_with_its_power_state()
    {
        using var client = Client();

        var vm = await client.GetVirtualMachineAsync(Sub, "rg-db", "vm-db", Ct);

        Assert.NotNull(vm);
        Assert.Equal("vm-db", vm.Name);
        Assert.Equal("dbadmin", vm.AdminUsername);
        Assert.Equal("running", vm.PowerState);
        Assert.Equal("Succeeded", vm.ProvisioningState);
    }

    [Fact]
    public async Task Resolves_a_vms_addresses_and_its_nsg_rules_in_priority_order()
    {
        using var client = Client();
        var vm = (await client.GetVirtualMachineAsync(Sub, "rg-web", "vm-web", Ct))!;

        var addresses = await client.GetAddressesAsync(vm, Ct);
        var rules = await client.GetSecurityRulesAsync(addresses.NetworkSecurityGroupId!, Ct);

        Assert.Equal("169.254.10.4", addresses.PrivateIpAddress);
        Assert.Equal("203.0.113.10", addresses.PublicIpAddress);
        Assert.Equal(vm.PrimaryNetworkInterfaceId, addresses.NetworkInterfaceId);
        Assert.EndsWith("/resourceGroups/rg-web/providers/Microsoft.Network/networkSecurityGroups/vm-web-nsg", addresses.NetworkSecurityGroupId, StringComparison.Ordinal);
        var own = rules.Where(r => !r.IsDefault).ToList();
        Assert.Equal(["ssh-from-office", "deny-telnet"], own.Select(r => r.Name));
        Assert.Equal((100, "Inbound", "Allow", "Tcp"), (own[0].Priority, own[0].Direction, own[0].Access, own[0].Protocol));
        Assert.Equal(["198.51.100.0/24"], own[0].SourceAddressPrefixes);
        Assert.Equal(["22"], own[0].DestinationPortRanges);
        Assert.Equal("Deny", own[1].Access);
        Assert.Equal(["23"], own[1].DestinationPortRanges);
        var defaults = rules.Where(r => r.IsDefault).ToList();
        Assert.Contains(defaults, r => r is { Name: "DenyAllInBound", Access: "Deny", Direction: "Inbound" });
        Assert.Equal(defaults.OrderBy(r => r.Priority).Select(r => r.Name), defaults.Select(r => r.Name));
    }

    [Fact]
    public async Task A_vm_without_a_public_address_has_none()
    {
        using var client = Client();
        var vm = (await client.GetVirtualMachineAsync(Sub, "rg-db", "vm-db", Ct))!;

        var addresses = await client.GetAddressesAsync(vm, Ct);

        Assert.Equal("169.254.20.5", addresses.PrivateIpAddress);
        Assert.Null(addresses.PublicIpAddress);
    }

    [Fact]
    public async Task An_unknown_vm_is_null_and_an_unknown_resource_group_is_a_clear_error()
    {
        using var client = Client();

        var missing = await client.GetVirtualMachineAsync(Sub, "rg-web", "vm-nope", Ct);
        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.GetVirtualMachineAsync(Sub, "rg-nope", "vm-web", Ct));

        Assert.Null(missing);
        Assert.Equal(404, error.Status);
        Assert.Equal("ResourceGroupNotFound", error.ErrorCode);
        Assert.Contains("rg-nope", error.Message, StringComparison.Ordinal);
        Assert.Contains("Check the subscription, resource group and name", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_client_secret_is_refused_by_entra_without_printing_it()
    {
        using var wrong = new ClientSecretCredential(AzureEmulator.Tenant, AzureEmulator.OperatorClientId, new Secret("not-the-secret-xyz"), _emulator.Entra());
        using var client = new ArmClient(_emulator.Arm(), ct => wrong.GetTokenAsync(ArmClient.Resource, ct));

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.ListVirtualMachinesAsync(Sub, cancellationToken: Ct));

        Assert.Equal(401, error.Status);
        Assert.Equal("invalid_client", error.ErrorCode);
        Assert.Contains("AADSTS7000215", error.Message, StringComparison.Ordinal);
        Assert.Contains("Entra POST /", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-secret-xyz", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(_emulator.Requests("arm"), r => r.Path.StartsWith("/subscriptions", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("arm:status=500,path=/subscriptions,count=3", 3)]
    [InlineData("arm:status=503,path=/subscriptions,count=2", 2)]
    [InlineData("arm:reset,path=/subscriptions,count=2", 2)]
    [InlineData("arm:truncate,path=/subscriptions,count=2", 2)]
    [InlineData("arm:malformed,path=/subscriptions,count=2", 2)]
    [InlineData("arm:throttle=0,path=/subscriptions,count=2", 2)]
    [InlineData("arm:latency=300,path=/subscriptions,count=1", 1)]
    [InlineData("arm:status=503,path=/" + AzureEmulator.Tenant + ",count=2", 2)]
    [InlineData("arm:reset,path=/" + AzureEmulator.Tenant + ",count=1", 1)]
    [InlineData("arm:malformed,path=/" + AzureEmulator.Tenant + ",count=1", 1)]
    public async Task Listing_vms_recovers_when_a_fault_clears(string spec, int hits)
    {
        var fault = _emulator.Fault(spec);
        using var client = Client();

        var vms = await client.ListVirtualMachinesAsync(Sub, "rg-web", Ct);

        Assert.Equal("vm-web", Assert.Single(vms).Name);
        await _emulator.FaultWasHitAsync(fault, hits);
    }

    [Fact]
    public async Task A_timeout_hits_the_per_call_deadline_then_recovers()
    {
        var fault = _emulator.Fault("arm:timeout=20000,path=/subscriptions,count=1");
        // the token is fetched inside each attempt's deadline: have it cached, and leave room for a fresh TLS connection
        await _operator.GetTokenAsync(ArmClient.Resource, Ct);
        using var client = Client(perCallSeconds: 2);

        var vm = await client.GetVirtualMachineAsync(Sub, "rg-web", "vm-web", Ct);

        Assert.Equal("vm-web", vm!.Name);
        await _emulator.FaultWasHitAsync(fault);
    }

    [Fact]
    public async Task Throttling_waits_for_retry_after_before_asking_again()
    {
        var fault = _emulator.Fault("arm:throttle=1,path=/subscriptions,count=1");
        var logger = new RecordingLogger();
        using var client = Client(logger: logger);

        await client.ListVirtualMachinesAsync(Sub, cancellationToken: Ct);

        Assert.Contains(logger.Lines, l => l.Contains("HTTP 429", StringComparison.Ordinal) && l.Contains("retrying in 1000 ms", StringComparison.Ordinal));
        // the emulator stamps a request after answering it: the gap to the next request bounds the client's wait from below
        var (throttled, next) = await _emulator.HitAndNextAsync("arm", fault);
        Assert.Equal(429, throttled.Status);
        Assert.Equal(200, next.Status);
        Assert.True(next.Time - throttled.Time >= TimeSpan.FromMilliseconds(950), $"asked again after {(next.Time - throttled.Time).TotalMilliseconds} ms; Retry-After was 1 s");
    }

    [Fact]
    public async Task A_410_is_not_retried_and_says_what_arm_answered()
    {
        var fault = _emulator.Fault("arm:gone,path=/subscriptions");
        using var client = Client();

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.ListVirtualMachinesAsync(Sub, cancellationToken: Ct));

        Assert.Equal(410, error.Status);
        Assert.Equal("Gone", error.ErrorCode);
        Assert.Contains("ARM list virtual machines failed: HTTP 410", error.Message, StringComparison.Ordinal);
        await _emulator.FaultWasHitAsync(fault);
        Assert.Single(_emulator.HitBy(fault));
    }

    [Fact]
    public async Task A_5xx_storm_that_never_clears_ends_after_the_attempt_limit_naming_the_endpoint()
    {
        var fault = _emulator.Fault("arm:status=503,path=/subscriptions");
        using var client = Client(maxAttempts: 4);

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.ListVirtualMachinesAsync(Sub, cancellationToken: Ct));

        Assert.Equal(503, error.Status);
        Assert.Equal(4, error.Attempts);
        Assert.Contains($"ARM list virtual machines ({_emulator.Host.Arm}) failed after 4 attempt(s)", error.Message, StringComparison.Ordinal);
        Assert.Contains("HTTP 503 ServiceUnavailable", error.Message, StringComparison.Ordinal);
        await _emulator.FaultWasHitAsync(fault, 4);
        Assert.Equal(4, _emulator.HitBy(fault).Count);
    }

    [Fact]
    public async Task A_hanging_arm_ends_at_the_total_deadline_naming_the_endpoint()
    {
        _emulator.Fault("arm:timeout=30000,path=/subscriptions");
        using var client = Client(maxAttempts: 100, perCallSeconds: 0.3, totalSeconds: 1);

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.ListVirtualMachinesAsync(Sub, cancellationToken: Ct));

        Assert.Null(error.Status);
        Assert.Contains($"ARM list virtual machines ({_emulator.Host.Arm})", error.Message, StringComparison.Ordinal);
        Assert.Contains("deadline", error.Message, StringComparison.Ordinal);
    }
}
