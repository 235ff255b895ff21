using System.Text.Json;
using Latch.VmTests.Rig;

namespace Latch.VmTests;

public sealed class EmulatorInVmTests
{
    [Fact]
    public async Task Imds_answers_each_vm_with_its_own_metadata_and_refuses_requests_without_the_header()
    {
        RigRequires.All();
        var ct = TestContext.Current.CancellationToken;
        await using var host = await AzureHost.StartAsync(ct);
        var key = await SshKey.CreateAsync(Path.Combine(host.Directory, "keys"), "admin", ct);
        var vm1 = await host.AddVmAsync("vm1", new VmProfile { AdminUsername = "azureuser", PublicKeys = [key.PublicKey] }, ct);
        var vm2 = await host.AddVmAsync("vm2", new VmProfile { AdminUsername = "other" }, ct);
        await host.StartEmulatorAsync(cancellationToken: ct);

        foreach (var vm in new[] { vm1, vm2 })
        {
            var answer = await vm.RunAsync(
                "curl -sS --max-time 20 -H Metadata:true 'http://169.254.169.254/metadata/instance?api-version=2021-02-01'", cancellationToken: ct);
            Assert.True(answer.Succeeded, $"curl in {vm.Name}: {answer.Stderr}\nemulator:\n{host.Emulator!.Process.Log}");
            using var json = JsonDocument.Parse(answer.Stdout);
            var compute = json.RootElement.GetProperty("compute");
            Assert.Equal(vm.Name, compute.GetProperty("name").GetString());
            Assert.Equal(vm.VmId, compute.GetProperty("vmId").GetString());
            Assert.Equal(vm.Profile.AdminUsername, compute.GetProperty("osProfile").GetProperty("adminUsername").GetString());
            Assert.Equal(
                vm.Profile.PublicKeys,
                compute.GetProperty("publicKeys").EnumerateArray().Select(k => k.GetProperty("keyData").GetString()!.TrimEnd('\n')));
        }

        var withoutHeader = await vm1.RunAsync(
            "curl -sS --max-time 20 -o /dev/null -w '%{http_code}' 'http://169.254.169.254/metadata/instance?api-version=2021-02-01'", cancellationToken: ct);
        Assert.Equal("400", withoutHeader.Stdout);
    }

    [Fact]
    public async Task Real_waagent_reports_ready_to_the_emulator()
    {
        RigRequires.All();
        var ct = TestContext.Current.CancellationToken;
        await using var host = await AzureHost.StartAsync(ct);
        var vm = await host.AddVmAsync("vm1", cancellationToken: ct);
        var emulator = await host.StartEmulatorAsync(cancellationToken: ct);

        var agent = await Waagent.StartAsync(vm, cancellationToken: ct);
        try
        {
            var ready = await emulator.WaitForHealthStateAsync(vm.Name, "Ready", TimeSpan.FromSeconds(60), ct);
            Assert.Equal("Ready", EmulatorProcess.StateOf(ready));
        }
        catch (RigException e)
        {
            var log = await vm.TryReadFileAsync(Waagent.LogPath, ct);
            Assert.Fail($"{e.Message}\n--- {Waagent.LogPath} in {vm.Name} ---\n{log ?? "(none)"}\n--- waagent output ---\n{agent.Log}");
        }
        finally
        {
            await agent.StopAsync();
        }
    }
}
