using System.Collections.Concurrent;
using System.Diagnostics;
using Latch.Rig;

namespace Latch.VmTests.Guard;

public sealed class GuardAkcTests
{
    private const int Logins = 1000;
    private const int Parallel = 4;

    [Fact]
    public async Task With_the_AuthorizedKeysCommand_every_login_with_the_managed_key_survives_a_rewrite_storm()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var vm = await GuardVm.StartAsync(emulator: true);
        await vm.LatchdAsync("keys", "add", "alice", vm.Managed.PublicKey);
        var installed = await vm.LatchdAsync("guard", "install");
        Assert.Contains("installed /etc/ssh/sshd_config.d/40-latch-akc.conf", installed.Stdout, StringComparison.Ordinal);
        Assert.Contains("authorizedkeyscommand /usr/sbin/latch-akc %u %f %t %k",
            (await vm.Vm.ExecAsync(["/usr/sbin/sshd", "-T"], cancellationToken: ct)).Stdout, StringComparison.Ordinal);

        // the founding bug: something rewrites authorized_keys to a single other key, over and over
        var loop = vm.StartHostileLoop(rewrites: 200_000);
        await vm.StartEmulatorHostileAgentAsync(intervalMs: 10, maxRewrites: 200_000);
        await vm.AuthorizedKeysEventuallyAsync(c => c.Trim() == vm.Hostile.PublicKey, "the storm's first rewrite");

        var failures = new ConcurrentBag<string>();
        var watch = Stopwatch.StartNew();
        var next = 0;
        await Task.WhenAll(Enumerable.Range(0, Parallel).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) <= Logins)
            {
                var login = await vm.SshAsync(vm.Managed);
                if (!login.Succeeded || login.Stdout.Trim() != "alice")
                {
                    failures.Add($"exit {login.ExitCode}: {login.Stderr.Trim()}");
                }
            }
        }));
        watch.Stop();
        var hostileStillRunning = !loop.HasExited;
        await vm.StopEmulatorHostileAgentAsync();
        await loop.StopAsync();

        TestContext.Current.TestOutputHelper?.WriteLine($"{Logins} logins, {Parallel} in parallel, during the storm: {watch.Elapsed.TotalSeconds:0.0} s ({Logins / watch.Elapsed.TotalSeconds:0.0}/s)");
        Assert.True(hostileStillRunning, "the hostile loop ended before the logins did; raise its bound so every login faces the storm");
        Assert.True(failures.IsEmpty, $"{failures.Count} of {Logins} logins failed; first: {failures.FirstOrDefault()}");
        Assert.False((await vm.SshAsync(vm.Own)).Succeeded, "the user's own key was overwritten by the storm, so it must not log in: the test would prove nothing otherwise");
    }

    [Fact]
    public async Task Install_refuses_when_another_AuthorizedKeysCommand_is_configured_and_uninstall_restores_sshd()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var vm = await GuardVm.StartAsync();
        await vm.Vm.WriteFileAsync("/etc/ssh/sshd_config.d/10-other.conf", "AuthorizedKeysCommand /usr/bin/other-akc %u\nAuthorizedKeysCommandUser nobody\n", cancellationToken: ct);

        var refused = await vm.Vm.ExecAsync([GuardVm.Latchd, "guard", "install"], cancellationToken: ct);

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("already uses AuthorizedKeysCommand /usr/bin/other-akc %u", refused.Stdout, StringComparison.Ordinal);
        Assert.Contains("/etc/ssh/sshd_config.d/10-other.conf:1", refused.Stdout, StringComparison.Ordinal);
        Assert.Null(await vm.Vm.TryReadFileAsync("/etc/ssh/sshd_config.d/40-latch-akc.conf", ct));

        await vm.Vm.ExecAsync(["rm", "/etc/ssh/sshd_config.d/10-other.conf"], cancellationToken: ct);
        await vm.LatchdAsync("keys", "add", "alice", vm.Managed.PublicKey);
        await vm.LatchdAsync("guard", "install");
        Assert.True((await vm.SshAsync(vm.Managed)).Succeeded);
        Assert.Contains("latch-akc:x:", await vm.Vm.ReadFileAsync("/etc/passwd", ct), StringComparison.Ordinal);

        var uninstalled = await vm.LatchdAsync("guard", "uninstall");
        Assert.Contains("removed /etc/ssh/sshd_config.d/40-latch-akc.conf", uninstalled.Stdout, StringComparison.Ordinal);
        Assert.False((await vm.SshAsync(vm.Managed)).Succeeded, "after uninstall the managed key (only in the store) must no longer log in");
        Assert.True((await vm.SshAsync(vm.Own)).Succeeded);
    }

    [Fact]
    public async Task A_group_writable_key_store_file_is_refused_and_logged_and_the_users_own_keys_keep_working()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var vm = await GuardVm.StartAsync();
        await vm.LatchdAsync("keys", "add", "alice", vm.Managed.PublicKey);
        await vm.LatchdAsync("guard", "install");
        Assert.True((await vm.SshAsync(vm.Managed)).Succeeded);

        await vm.Vm.ExecAsync(["chmod", "0664", "/var/lib/latch/keys/alice"], cancellationToken: ct);

        Assert.False((await vm.SshAsync(vm.Managed)).Succeeded);
        Assert.True((await vm.SshAsync(vm.Own)).Succeeded);
        var direct = await vm.Vm.ExecAsync([LatchdBinary.AkcVmPath, "alice"], cancellationToken: ct);
        Assert.Equal("", direct.Stdout);
        Assert.Contains("not group/world-writable; refused", direct.Stderr, StringComparison.Ordinal);
        var status = await vm.LatchdAsync("guard", "status");
        Assert.Contains("managed keys of alice: UNUSABLE", status.Stdout, StringComparison.Ordinal);
    }
}
