using System.Net;
using System.Text;
using Latch.Azure.Tests.Infrastructure;
using Latch.Emulator;

namespace Latch.Azure.Tests;

/// <summary>
/// The IMDS and WireServer clients against the real emulator (in-process EmulatorHost on 127.0.0.1:0), with faults
/// injected through its control API. Key Vault, ARM, run-command and the credentials have their own emulator tests
/// (KeyVaultEmulatorTests, ArmEmulatorTests, RunCommandEmulatorTests).
/// </summary>
public sealed class EmulatorClientTests : IAsyncLifetime
{
    private const string AliceKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDPkF5VHRonIwWDx4J8dlx4vadF5+3dWZok5Cb9jWB6b alice@test";
    private const string BobKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJFg/BIQqU0lgnMOIP6ADbeMYZ+KorcO+kGQhOH7nwZz bob@test";
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;
    private readonly HttpClient _control = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(60) };
    private EmulatorHost _emulator = null!;

    public async ValueTask InitializeAsync() => _emulator = await EmulatorHost.StartAsync(
        new EmulatorOptions
        {
            Scenario = new Scenario
            {
                Vms =
                [
                    new VmDefinition
                    {
                        Name = "vm-web",
                        ResourceGroup = "rg-test",
                        VmId = "0b8e6f0a-1f0c-4c35-9b0e-2f3a4d5e6f70",
                        AdminUsername = "azureuser",
                        DisablePasswordAuthentication = true,
                        PublicKeys = [new(AliceKey, "/home/azureuser/.ssh/authorized_keys"), new(BobKey, "/home/azureuser/.ssh/authorized_keys")],
                        Tags = new Dictionary<string, string> { ["role"] = "web" },
                    },
                ],
            },
        },
        Ct);

    public async ValueTask DisposeAsync()
    {
        _control.Dispose();
        await _emulator.DisposeAsync();
    }

    private async Task FaultAsync(string spec)
    {
        using var response = await _control.PostAsync(new Uri(_emulator.Control, "/faults"), new StringContent($"{{\"spec\":\"{spec}\"}}", Encoding.UTF8, "application/json"), Ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    private async Task ClearFaultsAsync()
    {
        using var response = await _control.DeleteAsync(new Uri(_emulator.Control, "/faults"), Ct);
        Assert.True(response.IsSuccessStatusCode);
    }

    /// <summary>The emulator records a request after answering it; wait (bounded) until the fault shows up.</summary>
    private Task FaultWasHitAsync(string fault) => Latch.Testing.EmulatorTesting.FaultWasHitAsync(_emulator.State, fault);

    private ImdsClient Imds(int maxAttempts = 8, double perCallSeconds = 30, double totalSeconds = 60) =>
        new(TestOptions.Imds(_emulator.Imds, maxAttempts, perCallSeconds, totalSeconds));

    private WireServerClient WireServer() => new(TestOptions.WireServer(_emulator.WireServer, maxAttempts: 8));

    [Fact]
    public async Task Imds_instance_from_the_emulator_has_both_keys_and_the_os_profile()
    {
        using var client = Imds();

        var instance = await client.GetInstanceAsync(Ct);

        Assert.Equal("vm-web", instance.Compute.Name);
        Assert.Equal("0b8e6f0a-1f0c-4c35-9b0e-2f3a4d5e6f70", instance.Compute.VmId);
        Assert.Equal("rg-test", instance.Compute.ResourceGroupName);
        Assert.Equal("web", instance.Compute.Tags["role"]);
        Assert.Equal("azureuser", instance.Compute.OsProfile!.AdminUsername);
        Assert.True(instance.Compute.OsProfile.DisablePasswordAuthentication);
        Assert.Equal([AliceKey, BobKey], instance.Compute.PublicKeys.Select(k => k.KeyData));
        Assert.NotEmpty(Assert.Single(instance.NetworkInterfaces).Ipv4Addresses);
    }

    [Theory]
    [InlineData("imds:status=500,count=3")]
    [InlineData("imds:status=503,count=2")]
    [InlineData("imds:gone,count=2")]
    [InlineData("imds:reset,count=2")]
    [InlineData("imds:truncate,count=2")]
    [InlineData("imds:malformed,count=2")]
    [InlineData("imds:throttle=0,count=2")]
    [InlineData("imds:latency=300,count=1")]
    public async Task Imds_recovers_when_a_fault_clears(string fault)
    {
        await FaultAsync(fault);
        using var client = Imds();

        var instance = await client.GetInstanceAsync(Ct);

        Assert.Equal("vm-web", instance.Compute.Name);
        await FaultWasHitAsync(fault);
    }

    [Fact]
    public async Task Imds_timeout_fault_hits_the_per_call_deadline_then_recovers()
    {
        await FaultAsync("imds:timeout=20000,count=1");
        using var client = Imds(perCallSeconds: 0.5);

        var instance = await client.GetInstanceAsync(Ct);

        Assert.Equal("vm-web", instance.Compute.Name);
    }

    [Fact]
    public async Task Imds_throttle_waits_for_retry_after()
    {
        await FaultAsync("imds:throttle=1,count=1");
        var logger = new RecordingLogger();
        using var client = new ImdsClient(TestOptions.Imds(_emulator.Imds, logger: logger));

        await client.GetInstanceAsync(Ct);

        Assert.Contains(logger.Lines, l => l.Contains("HTTP 429", StringComparison.Ordinal) && l.Contains("retrying in 1000 ms", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_5xx_storm_that_never_clears_ends_in_a_bounded_clear_error()
    {
        await FaultAsync("imds:status=503");
        using var client = Imds(maxAttempts: 4);

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.GetInstanceAsync(Ct));

        Assert.Equal(503, error.Status);
        Assert.Equal(4, error.Attempts);
        Assert.Contains("IMDS GET /metadata/instance", error.Message, StringComparison.Ordinal);
        Assert.Contains("HTTP 503", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_hanging_imds_ends_at_the_total_deadline()
    {
        await FaultAsync("imds:timeout=30000");
        using var client = Imds(maxAttempts: 100, perCallSeconds: 0.3, totalSeconds: 1);

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.GetInstanceAsync(Ct));

        Assert.Null(error.Status);
        Assert.Contains("deadline", error.Message, StringComparison.Ordinal);
        await ClearFaultsAsync();
    }

    [Fact]
    public async Task Wireserver_versions_goal_state_and_xml_health_round_trip()
    {
        using var client = WireServer();

        await client.GetVersionsAsync(Ct);
        var goalState = await client.GetGoalStateAsync(Ct);
        await client.ReportHealthAsync(goalState, HealthReport.NotReady("Provisioning", "Starting"), Ct);
        await client.ReportHealthAsync(goalState, HealthReport.Ready, Ct);

        var vm = _emulator.State.GetVm("vm-web");
        Assert.Equal(vm.Incarnation.ToString(System.Globalization.CultureInfo.InvariantCulture), goalState.Incarnation);
        Assert.Collection(
            vm.HealthReports,
            r =>
            {
                Assert.Equal("NotReady", r.State);
                Assert.Equal("Provisioning", r.SubStatus);
                Assert.Equal("Starting", r.Description);
            },
            r => Assert.Equal("Ready", r.State));
        Assert.All(vm.HealthReports, r => Assert.Equal("LatchTest", r.AgentName));
    }

    [Fact]
    public async Task A_410_on_health_refetches_the_goal_state_and_reports_the_new_incarnation()
    {
        using var client = WireServer();
        var stale = await client.GetGoalStateAsync(Ct);
        var vm = _emulator.State.GetVm("vm-web");
        var next = vm.BumpIncarnation();
        await FaultAsync("wireserver:gone,path=/machine,count=1");

        var reported = await client.ReportHealthAsync(stale, HealthReport.Ready, Ct);

        Assert.Equal(next.ToString(System.Globalization.CultureInfo.InvariantCulture), reported.Incarnation);
        Assert.Equal(reported.Incarnation, Assert.Single(vm.HealthReports).Incarnation);
    }

    [Theory]
    [InlineData("wireserver:gone,path=/machine,count=2")]
    [InlineData("wireserver:status=502,count=2")]
    [InlineData("wireserver:reset,count=2")]
    [InlineData("wireserver:truncate,count=2")]
    [InlineData("wireserver:malformed,count=2")]
    [InlineData("wireserver:throttle=0,count=2")]
    public async Task Goal_state_recovers_when_a_fault_clears(string fault)
    {
        await FaultAsync(fault);
        using var client = WireServer();

        var goalState = await client.GetGoalStateAsync(Ct);

        Assert.False(string.IsNullOrEmpty(goalState.RoleInstanceId));
        await FaultWasHitAsync(fault);
    }

    [Fact]
    public async Task Json_provisioning_health_reaches_the_emulator()
    {
        await FaultAsync("wireserver:status=503,path=/provisioning,count=1");
        using var client = WireServer();

        await client.ReportProvisioningHealthJsonAsync(HealthReport.NotReady("ProvisioningFailed", "result=error|reason=test"), Ct);

        var report = Assert.Single(_emulator.State.GetVm("vm-web").HealthReports);
        Assert.Equal("NotReady", report.State);
        Assert.Equal("ProvisioningFailed", report.SubStatus);
        Assert.Equal("result=error|reason=test", report.Description);
    }
}
