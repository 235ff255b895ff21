using Azure;
using Azure.Core;
using Azure.ResourceManager;
using Azure.ResourceManager.Compute;
using Azure.ResourceManager.Compute.Models;
using Azure.ResourceManager.Resources;

namespace Latch.Emulator.Tests;

public sealed class ArmSdkTests : IAsyncLifetime
{
    private const string OperatorClientId = "0b1e4a5c-1111-4222-8333-444455556666";
    private const string OperatorSecret = "operator-secret-not-for-logs";

    private readonly Scenario _scenario = new()
    {
        Vms =
        [
            new VmDefinition
            {
                Name = "vm1",
                ResourceGroup = "latch-rg",
                AdminUsername = "latchadmin",
                PublicIpAddress = "203.0.113.10",
                PublicKeys = [new VmPublicKey("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDxAk6hXwU0nBNtUDgVdk5nL1Sc+pVJzeGAyS8dvrTzq test", "/home/latchadmin/.ssh/authorized_keys")],
                Tags = new Dictionary<string, string> { ["latch"] = "managed" },
            },
        ],
        ServicePrincipals = [new ServicePrincipalDefinition { ClientId = OperatorClientId, ClientSecret = OperatorSecret }],
    };

    private ArmState _state = null!;
    private TestServer _server = null!;

    public async ValueTask InitializeAsync()
    {
        var tokens = new TokenIssuer(TimeProvider.System, _scenario.TenantId);
        _state = new ArmState(_scenario, new ArmOptions { RunCommandLatency = TimeSpan.Zero }, TimeProvider.System);
        _server = await TestServer.StartAsync(app =>
        {
            app.MapEntraTokenEndpoint(_scenario, tokens);
            app.MapArm(_state, tokens);
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        await _state.DisposeAsync();
    }

    private ArmClient Client() => new(
        _server.CreateCredential(_scenario.TenantId, OperatorClientId, OperatorSecret),
        _scenario.SubscriptionId,
        new ArmClientOptions
        {
            Environment = new ArmEnvironment(_server.BaseUri, "https://management.azure.com/"),
            Transport = _server.CreateTransport(),
            Retry = { MaxRetries = 0 },
        });

    private VirtualMachineResource Vm(ArmClient client) =>
        client.GetVirtualMachineResource(VirtualMachineResource.CreateResourceIdentifier(_scenario.SubscriptionId, "latch-rg", "vm1"));

    [Fact]
    public async Task Gets_the_vm_with_os_profile_keys_and_network_reference()
    {
        var vm = await Vm(Client()).GetAsync(cancellationToken: TestContext.Current.CancellationToken);
        var data = vm.Value.Data;

        Assert.Equal("vm1", data.Name);
        Assert.Equal(_scenario.Vms[0].VmId, data.VmId);
        Assert.Equal("latchadmin", data.OSProfile.AdminUsername);
        Assert.True(data.OSProfile.LinuxConfiguration.DisablePasswordAuthentication);
        Assert.Equal("/home/latchadmin/.ssh/authorized_keys", Assert.Single(data.OSProfile.LinuxConfiguration.SshPublicKeys).Path);
        Assert.Equal(SupportedOperatingSystemType.Linux, data.StorageProfile.OSDisk.OSType);
        Assert.EndsWith("/networkInterfaces/vm1-nic", Assert.Single(data.NetworkProfile.NetworkInterfaces).Id!.ToString(), StringComparison.Ordinal);
        Assert.Equal("managed", data.Tags["latch"]);
        Assert.Equal(_scenario.Vms[0].PrincipalId, data.Identity.PrincipalId.ToString());
    }

    [Fact]
    public async Task Lists_and_gets_subscriptions_resource_groups_and_vms_through_the_unmodified_sdk()
    {
        var client = Client();
        var ct = TestContext.Current.CancellationToken;

        var subscriptions = new List<SubscriptionResource>();
        await foreach (var s in client.GetSubscriptions().GetAllAsync(ct))
        {
            subscriptions.Add(s);
        }

        var subscription = Assert.Single(subscriptions);
        Assert.Equal(_scenario.SubscriptionId, subscription.Data.SubscriptionId);
        var got = await client.GetSubscriptions().GetAsync(_scenario.SubscriptionId, ct);
        Assert.Equal(subscription.Data.Id, got.Value.Data.Id);

        var groups = new List<string>();
        await foreach (var g in subscription.GetResourceGroups().GetAllAsync(cancellationToken: ct))
        {
            groups.Add(g.Data.Name);
        }

        Assert.Equal(["latch-rg"], groups);
        var group = (await subscription.GetResourceGroups().GetAsync("latch-rg", ct)).Value;
        Assert.Equal("latch-rg", group.Data.Name);

        var inSubscription = new List<string>();
        await foreach (var vm in subscription.GetVirtualMachinesAsync(cancellationToken: ct))
        {
            inSubscription.Add(vm.Data.Name);
        }

        var inGroup = new List<string>();
        await foreach (var vm in group.GetVirtualMachines().GetAllAsync(cancellationToken: ct))
        {
            inGroup.Add(vm.Data.Name);
        }

        Assert.Equal(["vm1"], inSubscription);
        Assert.Equal(["vm1"], inGroup);
        Assert.Equal("vm1", (await group.GetVirtualMachines().GetAsync("vm1", cancellationToken: ct)).Value.Data.Name);
        var missingGroup = await Assert.ThrowsAsync<RequestFailedException>(() => subscription.GetResourceGroups().GetAsync("nope", ct));
        Assert.Equal(("ResourceGroupNotFound", 404), (missingGroup.ErrorCode, missingGroup.Status));
    }

    [Fact]
    public async Task Expands_the_instance_view_when_asked()
    {
        var vm = await Vm(Client()).GetAsync(InstanceViewType.InstanceView, TestContext.Current.CancellationToken);

        Assert.Contains(vm.Value.Data.InstanceView.Statuses, s => s.Code == "PowerState/running");
    }

    [Fact]
    public async Task Run_command_executes_the_script_and_returns_its_stdout()
    {
        var marker = Path.Combine(Path.GetTempPath(), $"latch-run-command-{Guid.NewGuid():N}");
        try
        {
            var input = new RunCommandInput("RunShellScript")
            {
                Script = { $"echo made-by-run-command > '{marker}'", "echo \"hello from $(id -un) arg=$1 env=$GREETING\"", "echo oops >&2" },
                Parameters = { new RunCommandInputParameter("GREETING", "hi") },
            };

            var operation = await Vm(Client()).RunCommandAsync(WaitUntil.Completed, input, TestContext.Current.CancellationToken);
            var status = Assert.Single(operation.Value.Value);

            Assert.Equal("made-by-run-command\n", await File.ReadAllTextAsync(marker, TestContext.Current.CancellationToken));
            Assert.Equal("ProvisioningState/succeeded", status.Code);
            Assert.Equal($"Enable succeeded: \n[stdout]\nhello from {Environment.UserName} arg=hi env=hi\n\n[stderr]\noops\n", status.Message);
        }
        finally
        {
            File.Delete(marker);
        }
    }

    [Fact]
    public async Task A_failing_script_reports_its_exit_status_and_stderr()
    {
        var input = new RunCommandInput("RunShellScript") { Script = { "echo partial", "echo broken >&2", "exit 3" } };

        var operation = await Vm(Client()).RunCommandAsync(WaitUntil.Completed, input, TestContext.Current.CancellationToken);
        var status = Assert.Single(operation.Value.Value);

        Assert.Equal("ProvisioningState/failed", status.Code);
        Assert.Contains("exit status=3", status.Message, StringComparison.Ordinal);
        Assert.Contains("[stderr]\nbroken\n", status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_vm_is_a_404_ResourceNotFound()
    {
        var missing = Client().GetVirtualMachineResource(VirtualMachineResource.CreateResourceIdentifier(_scenario.SubscriptionId, "latch-rg", "nope"));

        var error = await Assert.ThrowsAsync<RequestFailedException>(() => missing.GetAsync(cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(404, error.Status);
        Assert.Equal("ResourceNotFound", error.ErrorCode);
    }
}
