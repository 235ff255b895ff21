using Latch.Azure.Tests.Infrastructure;

namespace Latch.Azure.Tests;

public sealed class ArmClientTests
{
    internal const string Sub = "11111111-2222-3333-4444-555555555555";
    internal const string VmId = $"/subscriptions/{Sub}/resourceGroups/latch-rg/providers/Microsoft.Compute/virtualMachines/vm1";
    private const string NicId = $"/subscriptions/{Sub}/resourceGroups/latch-rg/providers/Microsoft.Network/networkInterfaces/vm1-nic";
    private const string PipId = $"/subscriptions/{Sub}/resourceGroups/latch-rg/providers/Microsoft.Network/publicIPAddresses/vm1-ip";
    private const string NsgId = $"/subscriptions/{Sub}/resourceGroups/latch-rg/providers/Microsoft.Network/networkSecurityGroups/vm1-nsg";
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    internal static ArmClientOptions Options(Uri address) => new()
    {
        BaseAddress = address,
        PerCallTimeout = TimeSpan.FromSeconds(30),
        Retry = TestOptions.FastRetry(),
        PollInterval = TimeSpan.FromMilliseconds(10),
    };

    internal static ValueTask<AccessToken> Token(CancellationToken cancellationToken) =>
        ValueTask.FromResult(new AccessToken(new Secret("arm-token"), DateTimeOffset.UtcNow.AddHours(1)));

    internal static string Vm(string name, bool withInstanceView = false)
    {
        var instanceView = withInstanceView
            ? ""","instanceView":{"statuses":[{"code":"ProvisioningState/succeeded"},{"code":"PowerState/running","displayStatus":"VM running"}]}"""
            : "";
        return "{\"id\":\"/subscriptions/" + Sub + "/resourceGroups/latch-rg/providers/Microsoft.Compute/virtualMachines/" + name + "\",\"name\":\"" + name + "\",\"location\":\"westeurope\","
            + "\"tags\":{\"latch\":\"on\"},"
            + "\"properties\":{\"vmId\":\"0b5f7a8e-" + name + "\",\"hardwareProfile\":{\"vmSize\":\"Standard_B2s\"},\"storageProfile\":{\"osDisk\":{\"osType\":\"Linux\"}},"
            + "\"osProfile\":{\"computerName\":\"" + name + "\",\"adminUsername\":\"azureuser\"},"
            + "\"networkProfile\":{\"networkInterfaces\":[{\"id\":\"" + NicId + "-secondary\",\"properties\":{\"primary\":false}},{\"id\":\"" + NicId + "\",\"properties\":{\"primary\":true}}]},"
            + "\"provisioningState\":\"Succeeded\"" + instanceView + "}}";
    }

    private static string Page(string items, string? nextLink = null) =>
        "{\"value\":[" + items + "]" + (nextLink is null ? "" : ",\"nextLink\":\"" + nextLink + "\"") + "}";

    [Fact]
    public async Task Lists_the_virtual_machines_of_a_resource_group_across_pages()
    {
        await using var server = new ScriptedServer((r, _) => r.Target.Contains("skiptoken", StringComparison.Ordinal)
            ? ServerAction.Json(200, Page(Vm("vm2")))
            : ServerAction.Json(200, Page(Vm("vm1"), $"http://{r.Header("Host")}/subscriptions/{Sub}/resourceGroups/latch-rg/providers/Microsoft.Compute/virtualMachines?api-version=2024-07-01&$skiptoken=abc")));
        using var client = new ArmClient(Options(server.BaseAddress), Token);

        var vms = await client.ListVirtualMachinesAsync(Sub, "latch-rg", Ct);

        Assert.Equal(["vm1", "vm2"], vms.Select(v => v.Name));
        var vm1 = vms[0];
        Assert.Equal(Sub, vm1.SubscriptionId);
        Assert.Equal("latch-rg", vm1.ResourceGroup);
        Assert.Equal("Standard_B2s", vm1.VmSize);
        Assert.Equal("Linux", vm1.OsType);
        Assert.Equal("azureuser", vm1.AdminUsername);
        Assert.Equal(NicId, vm1.PrimaryNetworkInterfaceId);
        Assert.Equal("on", vm1.Tags["latch"]);
        Assert.All(server.Requests, r => Assert.Equal("Bearer arm-token", r.Header("Authorization")));
        Assert.Equal($"/subscriptions/{Sub}/resourceGroups/latch-rg/providers/Microsoft.Compute/virtualMachines?api-version=2024-07-01", server.Requests[0].Target);
    }

    [Fact]
    public async Task Lists_a_whole_subscription_when_no_group_is_given()
    {
        await using var server = ScriptedServer.Always(ServerAction.Json(200, Page(Vm("vm1"))));
        using var client = new ArmClient(Options(server.BaseAddress), Token);

        await client.ListVirtualMachinesAsync(Sub, cancellationToken: Ct);

        Assert.StartsWith($"/subscriptions/{Sub}/providers/Microsoft.Compute/virtualMachines?", server.Requests[0].Target, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Gets_a_vm_with_its_power_state_and_null_when_it_does_not_exist()
    {
        await using var server = new ScriptedServer((r, _) => r.Target.Contains("/vm1?", StringComparison.Ordinal)
            ? ServerAction.Json(200, Vm("vm1", withInstanceView: true))
            : ServerAction.Json(404, """{"error":{"code":"ResourceNotFound","message":"The Resource 'Microsoft.Compute/virtualMachines/nope' under resource group 'latch-rg' was not found."}}"""));
        using var client = new ArmClient(Options(server.BaseAddress), Token);

        var vm = await client.GetVirtualMachineAsync(Sub, "latch-rg", "vm1", Ct);
        var missing = await client.GetVirtualMachineAsync(Sub, "latch-rg", "nope", Ct);

        Assert.Equal("running", vm!.PowerState);
        Assert.Contains("$expand=instanceView", server.Requests[0].Target, StringComparison.Ordinal);
        Assert.Null(missing);
    }

    [Fact]
    public async Task Resolves_private_and_public_addresses_and_the_nsg_rules()
    {
        await using var server = new ScriptedServer((r, _) => r.Target switch
        {
            var t when t.StartsWith(NicId + "?", StringComparison.Ordinal) => ServerAction.Json(200, $$$"""
                {"id":"{{{NicId}}}","properties":{"ipConfigurations":[
                  {"name":"second","properties":{"privateIPAddress":"10.1.0.9","primary":false}},
                  {"name":"ipconfig1","properties":{"privateIPAddress":"10.1.0.4","primary":true,"publicIPAddress":{"id":"{{{PipId}}}"} } }],
                 "networkSecurityGroup":{"id":"{{{NsgId}}}"} } }
                """),
            var t when t.StartsWith(PipId + "?", StringComparison.Ordinal) => ServerAction.Json(200, """{"properties":{"ipAddress":"20.30.40.50","publicIPAllocationMethod":"Static"}}"""),
            var t when t.StartsWith(NsgId + "?", StringComparison.Ordinal) => ServerAction.Json(200, """
                {"properties":{"securityRules":[
                  {"name":"allow-ssh-office","properties":{"priority":300,"direction":"Inbound","access":"Allow","protocol":"Tcp","sourceAddressPrefixes":["203.0.113.0/24","198.51.100.7"],"sourcePortRange":"*","destinationAddressPrefix":"*","destinationPortRange":"22"}},
                  {"name":"deny-all","properties":{"priority":100,"direction":"Inbound","access":"Deny","protocol":"*","sourceAddressPrefix":"Internet","destinationPortRanges":["22","80-90"]}}],
                 "defaultSecurityRules":[{"name":"DenyAllInBound","properties":{"priority":65500,"direction":"Inbound","access":"Deny","protocol":"*","sourceAddressPrefix":"*","destinationPortRange":"*"}}]}}
                """),
            _ => ServerAction.Json(404, """{"error":{"code":"NotFound","message":"unexpected"}}"""),
        });
        using var client = new ArmClient(Options(server.BaseAddress), Token);
        var vm = ArmClient.ToVirtualMachine(System.Text.Json.JsonSerializer.Deserialize(Vm("vm1"), Latch.Azure.Json.AzureJsonContext.Default.VirtualMachineWire)!);

        var addresses = await client.GetAddressesAsync(vm, Ct);
        var rules = await client.GetSecurityRulesAsync(addresses.NetworkSecurityGroupId!, Ct);

        Assert.Equal(new ArmVmAddresses("10.1.0.4", "20.30.40.50", NicId, NsgId), addresses);
        Assert.Equal(["deny-all", "allow-ssh-office", "DenyAllInBound"], rules.Select(r => r.Name));
        Assert.Equal(["203.0.113.0/24", "198.51.100.7"], rules[1].SourceAddressPrefixes);
        Assert.Equal(["22", "80-90"], rules[0].DestinationPortRanges);
        Assert.True(rules[2].IsDefault);
    }

    [Fact]
    public async Task Authorization_failures_carry_arms_code_and_are_not_retried()
    {
        await using var server = ScriptedServer.Always(ServerAction.Json(403, """{"error":{"code":"AuthorizationFailed","message":"The client 'abc' does not have authorization to perform action 'Microsoft.Compute/virtualMachines/read'."}}"""));
        using var client = new ArmClient(Options(server.BaseAddress), Token);

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.ListVirtualMachinesAsync(Sub, "latch-rg", Ct));

        Assert.Equal(403, error.Status);
        Assert.Equal("AuthorizationFailed", error.ErrorCode);
        Assert.Contains("does not have authorization", error.Message, StringComparison.Ordinal);
        Assert.Contains("'Reader'", error.Message, StringComparison.Ordinal);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task Throttling_is_retried_after_the_servers_wait()
    {
        await using var server = ScriptedServer.Sequence(
            ServerAction.Json(429, """{"error":{"code":"TooManyRequests","message":"slow down"}}""", ("Retry-After", "0")),
            ServerAction.Json(200, Page(Vm("vm1"))));
        using var client = new ArmClient(Options(server.BaseAddress), Token);

        var vms = await client.ListVirtualMachinesAsync(Sub, "latch-rg", Ct);

        Assert.Single(vms);
        Assert.Equal(2, server.Requests.Count);
    }

    [Fact]
    public async Task A_next_link_to_another_host_is_refused_and_gets_no_token()
    {
        await using var server = ScriptedServer.Always(ServerAction.Json(200, Page(Vm("vm1"), "http://attacker.example:8080/steal")));
        using var client = new ArmClient(Options(server.BaseAddress), Token);

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.ListVirtualMachinesAsync(Sub, "latch-rg", Ct));

        Assert.Contains("refusing to send the bearer token", error.Message, StringComparison.Ordinal);
        Assert.Single(server.Requests);
    }
}
