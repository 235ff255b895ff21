using Latch.Rig;
using Latch.VmTests.Guard;

namespace Latch.VmTests;

/// <summary>Provisioned keys live in the key guard's store: latch-akc serves them and the guard restores them.</summary>
public sealed class ProvisionedKeysGuardTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task After_authorized_keys_is_emptied_the_provisioned_key_logs_in_through_the_AuthorizedKeysCommand_and_the_guard_restores_it()
    {
        await using var rig = await ProvisioningRig.StartAsync(cancellationToken: Ct);
        var provisioned = await rig.ProvisionAsync();
        Assert.True(provisioned.Succeeded, rig.Explain(provisioned));
        Assert.Contains("1 provisioned key(s) added to the key guard's store (source provisioning)", provisioned.Stderr, StringComparison.Ordinal);

        // something (another agent, a careless script) empties the file in place
        var emptied = await rig.Vm.RunAsync(": > /home/azureuser/.ssh/authorized_keys", cancellationToken: Ct);
        Assert.True(emptied.Succeeded, emptied.Stderr);
        var refused = await rig.SshAsync("true");
        Assert.True(refused.ExitCode != 0, "with authorized_keys empty and no AuthorizedKeysCommand the key must be refused, or the test proves nothing");

        await LatchdBinary.InstallAsync(rig.Vm, Ct);
        var installed = await rig.Vm.ExecAsync([LatchdBinary.VmPath, "guard", "install"], cancellationToken: Ct);
        Assert.True(installed.Succeeded, installed.Stdout + installed.Stderr);

        var login = await rig.SshAsync("id -un");
        Assert.True(login.Succeeded, $"ssh: {login.Stderr}\n{installed.Stdout}\n--- sshd ---\n{rig.Vm.Sshd?.Log}");
        Assert.Equal("azureuser", login.Stdout.Trim());
        Assert.Equal("", await rig.Vm.ReadFileAsync("/home/azureuser/.ssh/authorized_keys", Ct));
        var served = await rig.Vm.ExecAsync([LatchdBinary.AkcVmPath, "azureuser"], cancellationToken: Ct);
        Assert.Contains(rig.Key.PublicKey.Split(' ')[1], served.Stdout, StringComparison.Ordinal);

        // the file guard's restore (one-shot here: no daemon runs) puts the provisioned key back into the file
        var refreshed = await rig.Vm.ExecAsync([LatchdBinary.VmPath, "keys", "refresh"], cancellationToken: Ct);
        Assert.True(refreshed.Succeeded, refreshed.Stdout + refreshed.Stderr);
        Assert.Contains(rig.Key.PublicKey.Split(' ')[1], await rig.Vm.ReadFileAsync("/home/azureuser/.ssh/authorized_keys", Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_machine_an_earlier_latchd_provisioned_moves_its_managed_keys_into_the_store_on_the_next_start()
    {
        await using var rig = await ProvisioningRig.StartAsync(cancellationToken: Ct);
        await rig.ProvisionSucceedsAsync();
        // what an earlier latchd left: the keys in managed-keys, a 0700 state directory, no store file
        var downgraded = await rig.Vm.RunAsync(
            "mkdir -m 0700 /var/lib/latch/managed-keys && grep -o 'ssh-ed25519 .*' /var/lib/latch/keys/azureuser | cut -f1 > /var/lib/latch/managed-keys/azureuser"
            + " && rm /var/lib/latch/keys/azureuser && chmod 0700 /var/lib/latch",
            cancellationToken: Ct);
        Assert.True(downgraded.Succeeded, downgraded.Stderr);

        var again = await rig.ProvisionAsync();

        Assert.True(again.Succeeded, rig.Explain(again));
        Assert.Contains("already provisioned", again.Stderr, StringComparison.Ordinal);
        Assert.Contains("moved the provisioned keys of", again.Stderr, StringComparison.Ordinal);
        Assert.Contains("key\tprovisioning\t", await rig.Vm.ReadFileAsync("/var/lib/latch/keys/azureuser", Ct), StringComparison.Ordinal);
        Assert.Equal("755\nno\n", (await rig.Vm.RunAsync("stat -c %a /var/lib/latch; [ -e /var/lib/latch/managed-keys ] && echo yes || echo no", cancellationToken: Ct)).Stdout);
    }
}
