using Latch.Rig;

namespace Latch.VmTests;

public sealed class ParallelVmTests
{
    [Fact]
    public async Task Three_vms_run_at_once_with_their_own_addresses_and_leave_nothing_behind()
    {
        RigRequires.All();
        var ct = TestContext.Current.CancellationToken;
        var host = await AzureHost.StartAsync(ct);
        var sshdPids = new List<int>();
        try
        {
            var vms = await Task.WhenAll(Enumerable.Range(1, 3).Select(i => host.AddVmAsync($"vm{i}", cancellationToken: ct)));
            var key = await SshKey.CreateAsync(Path.Combine(host.Directory, "keys"), "operator", ct);
            foreach (var vm in vms)
            {
                await vm.AddUserAsync("azureuser", [key.PublicKey], ct);
                await vm.WriteFileAsync("/etc/latch-test-name", vm.Name + "\n", cancellationToken: ct);
                sshdPids.Add(vm.Sshd!.Pid);
            }

            var answers = await Task.WhenAll(vms.Select(vm => vm.SshAsync(
                "azureuser", key.PrivateKeyPath, "cat /etc/latch-test-name; ip -4 -o addr show dev eth0", cancellationToken: ct)));

            Assert.Equal(3, vms.Select(v => v.Namespace).Distinct().Count());
            Assert.Equal(3, vms.Select(v => v.Address).Distinct().Count());
            for (var i = 0; i < vms.Length; i++)
            {
                Assert.True(answers[i].Succeeded, answers[i].Stderr);
                var lines = answers[i].Stdout.Split('\n');
                Assert.Equal(vms[i].Name, lines[0]);
                Assert.Contains($"inet {vms[i].Address}/30", lines[1], StringComparison.Ordinal);
                Assert.Single(lines[1..], l => l.Contains("inet ", StringComparison.Ordinal));
            }

            // a VM reaches the azure host through its gateway, but not another VM's network
            var gateway = await vms[0].RunAsync($"ip route get {AzureHost.WireServerAddress}", cancellationToken: ct);
            Assert.Contains($"via {vms[0].GatewayAddress} dev eth0", gateway.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            await host.DisposeAsync();
        }

        Assert.DoesNotContain(await NetNs.ListAsync(ct), ns => ns.EndsWith("-" + host.Id, StringComparison.Ordinal));
        Assert.Empty(Mounts.Under(host.Directory));
        Assert.False(Directory.Exists(host.Directory));
        Assert.False(File.Exists(Janitor.OwnerFile(host.Id)));
        var links = await Command.CheckAsync(["ip", "-o", "link", "show"], cancellationToken: ct);
        Assert.DoesNotContain("lt" + host.Id, links.Stdout, StringComparison.Ordinal);
        Assert.All(sshdPids, pid => Assert.False(Directory.Exists($"/proc/{pid}"), $"sshd pid {pid} still runs"));
    }

    [Fact]
    public async Task A_vm_that_fails_to_boot_leaves_nothing_behind_and_the_host_keeps_working()
    {
        RigRequires.All();
        var ct = TestContext.Current.CancellationToken;
        await using var host = await AzureHost.StartAsync(ct);

        // the overlay, namespace and veth exist by the time the hostname is refused
        var failure = await Assert.ThrowsAsync<RigException>(() => host.AddVmAsync("not a hostname!", cancellationToken: ct));
        var vm = await host.AddVmAsync("vm2", cancellationToken: ct);

        Assert.Contains("hostname", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("lt-vm1-" + host.Id, await NetNs.ListAsync(ct));
        Assert.Empty(Mounts.Under(Path.Combine(host.Directory, "vm1")));
        Assert.False(Directory.Exists(Path.Combine(host.Directory, "vm1")));
        Assert.Equal([vm], host.Vms);
        Assert.True((await vm.RunAsync("true", cancellationToken: ct)).Succeeded);
    }

    [Fact]
    public async Task A_test_that_fails_with_vms_and_the_emulator_running_leaves_nothing_behind()
    {
        RigRequires.All();
        var ct = TestContext.Current.CancellationToken;
        string? id = null, directory = null;
        var pids = new List<int>();

        // what a failing test looks like to the rig: an exception out of the await using that owns the host
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(async () =>
        {
            await using var host = await AzureHost.StartAsync(ct);
            (id, directory) = (host.Id, host.Directory);
            var vms = await Task.WhenAll(host.AddVmAsync("vm1", cancellationToken: ct), host.AddVmAsync("vm2", cancellationToken: ct));
            var emulator = await host.StartEmulatorAsync(cancellationToken: ct);
            pids.AddRange([.. vms.Select(v => v.Sshd!.Pid), emulator.Process.Pid]);
            throw new InvalidOperationException("an assertion failed in the middle of the test");
        });

        Assert.Equal("an assertion failed in the middle of the test", failure.Message);
        Assert.NotNull(id);
        Assert.DoesNotContain(await NetNs.ListAsync(ct), ns => ns.EndsWith("-" + id, StringComparison.Ordinal));
        Assert.Empty(Mounts.Under(directory!));
        Assert.False(Directory.Exists(directory));
        Assert.False(File.Exists(Janitor.OwnerFile(id)));
        Assert.Equal(3, pids.Count);
        Assert.All(pids, pid => Assert.False(Directory.Exists($"/proc/{pid}"), $"pid {pid} (sshd or the emulator) still runs"));
    }
}
