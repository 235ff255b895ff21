using Latch.Emulator;
using Latch.Testing;

namespace Latch.Agent.Tests;

/// <summary>latchd provision against the real emulator (in-process, 127.0.0.1:0) on a --root sandbox.</summary>
public sealed class ProvisionerTests
{
    private const string VmId = "6c1f2b6e-0c2d-4e8f-9a7b-1d2e3f405162";

    private static VmDefinition Vm(string user = "azureuser", params string[] keys) => new()
    {
        Name = "vm1",
        VmId = VmId,
        AdminUsername = user,
        PublicKeys = [.. (keys.Length == 0 ? [Keys.Web] : keys).Select(k => new VmPublicKey(k, $"/home/{user}/.ssh/authorized_keys"))],
    };

    private static string[] Args(Sandbox sandbox, EmulatorHost emulator, params string[] extra) =>
        ["provision", "--root", sandbox.Root, "--imds", emulator.Imds.ToString(), "--wireserver", emulator.WireServer.ToString(), .. extra];

    [Theory]
    [InlineData("Root", "InvalidUserName")]
    [InlineData("root", "InvalidUserName")]
    [InlineData("daemon", "InvalidUserName")]
    public async Task A_refused_user_name_reports_not_ready_naming_the_step_and_changes_nothing(string user, string code)
    {
        Requires.Root();
        using var sandbox = new Sandbox();
        await using var emulator = await AgentRun.StartEmulatorAsync(Vm(user));
        var before = sandbox.Snapshot();

        var (status, _, error) = await AgentRun.RunAsync(Args(sandbox, emulator));

        Assert.Equal(1, status);
        Assert.Equal(before, sandbox.Snapshot());
        var reports = emulator.State.Vms[0].HealthReports;
        Assert.Equal(["NotReady", "NotReady"], reports.Select(r => r.State));
        Assert.Equal(("Provisioning", "Starting"), (reports[0].SubStatus, reports[0].Description));
        Assert.Equal("ProvisioningFailed", reports[1].SubStatus);
        Assert.StartsWith($"latchd: step 'user' failed ({code}): ", reports[1].Description, StringComparison.Ordinal);
        Assert.Contains($"provisioning failed in step 'user' ({code})", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_hostile_key_reports_not_ready_and_changes_nothing()
    {
        Requires.Root();
        using var sandbox = new Sandbox();
        await using var emulator = await AgentRun.StartEmulatorAsync(Vm("azureuser", Keys.Web + " $(reboot)"));
        var before = sandbox.Snapshot();

        var (status, _, _) = await AgentRun.RunAsync(Args(sandbox, emulator));

        Assert.Equal(1, status);
        Assert.Equal(before, sandbox.Snapshot());
        var last = emulator.State.Vms[0].HealthReports[^1];
        Assert.Equal(("NotReady", "ProvisioningFailed"), (last.State, last.SubStatus));
        Assert.StartsWith("latchd: step 'keys' failed (InvalidKey): ", last.Description, StringComparison.Ordinal);
        Assert.DoesNotContain(emulator.State.Vms[0].HealthReports, r => r.State == "Ready");
    }

    [Theory]
    [InlineData("<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/shadow\">]><Environment xmlns=\"http://schemas.dmtf.org/ovf/environment/1\">&e;</Environment>")]
    [InlineData("<Environment xmlns=\"http://schemas.dmtf.org/ovf/environment/1\"><unclosed>")]
    [InlineData("<Environment xmlns=\"urn:not-ovf\"/>")]
    public async Task A_malformed_or_hostile_ovf_env_reports_not_ready_and_changes_nothing(string xml)
    {
        Requires.Root();
        using var sandbox = new Sandbox();
        Directory.CreateDirectory(sandbox.PathOf("/etc/latch"));
        Directory.CreateDirectory(sandbox.PathOf("/media"));
        File.WriteAllText(sandbox.PathOf("/etc/latch/latchd.toml"), "[Latch]\nOvfEnvPath = \"/media/ovf-env.xml\"\nUseImds = false\n");
        File.WriteAllText(sandbox.PathOf("/media/ovf-env.xml"), xml);
        await using var emulator = await AgentRun.StartEmulatorAsync(Vm());
        var before = sandbox.Snapshot();

        var (status, _, _) = await AgentRun.RunAsync(Args(sandbox, emulator));

        Assert.Equal(1, status);
        Assert.Equal(before, sandbox.Snapshot());
        var last = emulator.State.Vms[0].HealthReports[^1];
        Assert.Equal(("NotReady", "ProvisioningFailed"), (last.State, last.SubStatus));
        Assert.StartsWith("latchd: step 'media' failed (OvfEnvMalformed): /media/ovf-env.xml: ", last.Description, StringComparison.Ordinal);
        Assert.DoesNotContain("root:", last.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_already_provisioned_vm_only_reports_ready()
    {
        Requires.Root();
        using var sandbox = new Sandbox();
        Directory.CreateDirectory(sandbox.PathOf("/var/lib/latch"));
        File.WriteAllText(sandbox.PathOf("/var/lib/latch/provisioned"), VmId + "\n");
        await using var emulator = await AgentRun.StartEmulatorAsync(Vm());
        var before = sandbox.Snapshot();

        var (status, _, error) = await AgentRun.RunAsync(Args(sandbox, emulator));

        Assert.True(status == 0, error);
        Assert.Equal(before, sandbox.Snapshot());
        Assert.Equal("Ready", Assert.Single(emulator.State.Vms[0].HealthReports).State);
        Assert.Contains($"already provisioned for VM {VmId}", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_provisioning_disabled_run_reports_ready_without_provisioning()
    {
        Requires.Root();
        using var sandbox = new Sandbox();
        File.WriteAllText(sandbox.PathOf("/etc/waagent.conf"), "Provisioning.Agent=disabled\nLogs.Verbose=y\n");
        await using var emulator = await AgentRun.StartEmulatorAsync(Vm("Bad-Name"));
        var before = sandbox.Snapshot();
        using var stop = new CancellationTokenSource();

        // the daemon waits for SIGTERM once Ready is reported: cancel it when the report arrives
        var run = AgentCommandLine.RunAsync(
            ["run", "--root", sandbox.Root, "--imds", emulator.Imds.ToString(), "--wireserver", emulator.WireServer.ToString()],
            new AgentStreams(TextReader.Null, TextWriter.Null, new StringWriter()), cancellationToken: stop.Token);
        for (var i = 0; i < 600 && emulator.State.Vms[0].HealthReports.Count == 0 && !run.IsCompleted; i++)
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }

        await stop.CancelAsync();
        Assert.Equal(0, await run);
        Assert.Equal("Ready", Assert.Single(emulator.State.Vms[0].HealthReports).State);
        Assert.Equal(before, sandbox.Snapshot());
    }

    [Fact]
    public async Task An_unreachable_wireserver_fails_without_reporting()
    {
        Requires.Root();
        using var sandbox = new Sandbox();
        File.WriteAllText(sandbox.PathOf("/etc/waagent.conf"), "Provisioning.Agent=auto\n");
        Directory.CreateDirectory(sandbox.PathOf("/etc/latch"));
        File.WriteAllText(sandbox.PathOf("/etc/latch/latchd.toml"), "[Latch]\nReportDeadlineSeconds = 5\nUseImds = false\n");

        // a port nobody listens on: connection refused, retried until the 5 s deadline
        var (status, _, error) = await AgentRun.RunAsync(["provision", "--root", sandbox.Root, "--wireserver", "http://127.0.0.1:9/"]);

        Assert.Equal(1, status);
        Assert.Contains("cannot reach the WireServer", error, StringComparison.Ordinal);
    }
}
