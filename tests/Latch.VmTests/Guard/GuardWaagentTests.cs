using System.Text.Json;
using Latch.Rig;

namespace Latch.VmTests.Guard;

/// <summary>
/// Debian's own waagent 2.7.3, unmodified, provisions the VM from the emulator's ovf-env.xml and writes the admin's
/// keys over ~/.ssh/authorized_keys, the overwrite of the founding story. It reads ovf-env.xml from a DVD that is
/// already mounted (<see cref="ProvisioningDvd"/>: this kernel cannot mount the ISO itself).
/// </summary>
public sealed class GuardWaagentTests
{
    [Fact]
    public async Task Real_waagent_provisioning_writes_its_keys_over_authorized_keys_and_the_managed_key_still_logs_in()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var vm = await GuardVm.StartAsync(emulator: true);
        var emulator = vm.Host.Emulator!;
        await vm.LatchdAsync("keys", "add", "alice", vm.Managed.PublicKey);
        await vm.LatchdAsync("guard", "install");
        var guard = await vm.StartFileGuardAsync();
        await vm.AuthorizedKeysEventuallyAsync(c => c.Contains(vm.Managed.PublicKey, StringComparison.Ordinal), "the first restore");
        var auditLinesBefore = (await vm.Vm.TryReadFileAsync("/var/log/latch/audit.jsonl", ct) ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;

        await ProvisioningDvd.InsertAsync(vm.Vm, await emulator.WriteMediaAsync(vm.Vm.Name, ct), ct);
        var agent = await Waagent.StartAsync(vm.Vm, Waagent.ProvisioningSettings, ct);
        string log;
        try
        {
            // waagent reports Ready after provisioning; its restart of eth0 (no ifupdown here) costs 3 × 5 s of retries first
            await emulator.WaitForHealthStateAsync(vm.Vm.Name, "Ready", TimeSpan.FromMinutes(3), ct);
            log = await vm.Vm.ReadFileAsync(Waagent.LogPath, ct);
            Assert.Contains("Provisioning complete", log, StringComparison.Ordinal);
        }
        catch (RigException e)
        {
            Assert.Fail($"{e.Message}\n--- {Waagent.LogPath} ---\n{await vm.Vm.TryReadFileAsync(Waagent.LogPath, ct) ?? "(none)"}\n--- waagent output ---\n{agent.Log}");
            throw;
        }
        finally
        {
            await agent.StopAsync();
        }

        TestContext.Current.TestOutputHelper?.WriteLine(string.Join('\n', log.Split('\n').Where(l =>
            l.Contains("dvd", StringComparison.OrdinalIgnoreCase) || l.Contains("ovf", StringComparison.OrdinalIgnoreCase) || l.Contains("rovision", StringComparison.Ordinal) || l.Contains("ssh", StringComparison.OrdinalIgnoreCase))));

        // waagent took the DVD route: found its device mounted, read ovf-env.xml, deployed the key, unmounted the DVD
        Assert.Contains($"{ProvisioningDvd.Device} is already mounted at {ProvisioningDvd.MountPoint}", log, StringComparison.Ordinal);
        Assert.Contains("Deploy ssh public key", log, StringComparison.Ordinal);
        Assert.True(await vm.Vm.TryReadFileAsync("/var/lib/waagent/ovf-env.xml", ct) is { } copied && copied.Contains(vm.Platform.PublicKey.Split(' ')[1], StringComparison.Ordinal));
        Assert.False(ProvisioningDvd.IsMounted(vm.Vm), "waagent leaves the DVD mounted only when provisioning failed half-way");

        // the file was overwritten (the user's own key is gone, waagent's is there) and the guard put the managed key back
        var final = await vm.AuthorizedKeysEventuallyAsync(
            c => c.Contains(vm.Platform.PublicKey, StringComparison.Ordinal) && c.Contains(vm.Managed.PublicKey, StringComparison.Ordinal),
            "waagent's key next to the restored managed key");
        Assert.DoesNotContain(vm.Own.PublicKey, final, StringComparison.Ordinal);

        var fingerprint = (await Command.CheckAsync(["ssh-keygen", "-lf", vm.Managed.PrivateKeyPath + ".pub"], cancellationToken: ct)).Stdout.Split(' ')[1];
        var audit = (await vm.Vm.ReadFileAsync("/var/log/latch/audit.jsonl", ct)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(auditLinesBefore).ToList();
        Assert.Contains(audit, line =>
        {
            using var record = JsonDocument.Parse(line);
            var root = record.RootElement;
            return root.GetProperty("action").GetString() == "restore" && root.GetProperty("user").GetString() == "alice"
                && root.GetProperty("cause").GetString() == "authorized_keys rewritten"
                && root.GetProperty("restored").EnumerateArray().Any(f => f.GetString() == fingerprint);
        });
        // the first restore at start, then at least one after waagent's write
        Assert.True(guard.Log.Split("restored 1 managed key(s) for alice").Length - 1 >= 2, "the guard logged no restore after waagent's write:\n" + guard.Log);

        Assert.True((await vm.SshAsync(vm.Managed)).Succeeded, "login with the Latch-managed key after waagent's provisioning");
        Assert.True((await vm.SshAsync(vm.Platform)).Succeeded, "login with the key waagent deployed");
        Assert.False((await vm.SshAsync(vm.Own)).Succeeded, "the user's own key was overwritten by waagent: it must not log in, or the test proves nothing");
    }
}
