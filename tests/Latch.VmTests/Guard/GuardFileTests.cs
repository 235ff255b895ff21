using Latch.Rig;

namespace Latch.VmTests.Guard;

public sealed class GuardFileTests
{
    [Fact]
    public async Task With_only_the_file_guard_the_managed_key_is_back_after_the_storm_and_the_storms_key_is_kept()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var vm = await GuardVm.StartAsync(emulator: true);
        await vm.LatchdAsync("keys", "add", "alice", vm.Managed.PublicKey);
        var watch = await vm.StartFileGuardAsync();
        await vm.AuthorizedKeysEventuallyAsync(c => c.Contains(vm.Managed.PublicKey, StringComparison.Ordinal), "the first restore");

        {
            var loop = vm.StartHostileLoop(rewrites: 300);
            await vm.StartEmulatorHostileAgentAsync(intervalMs: 10, maxRewrites: 300);
            await loop.WaitForExitAsync(TimeSpan.FromMinutes(2), ct);
            await vm.StopEmulatorHostileAgentAsync();
        }

        // the storm's last rewrite may land in an inode the guard just replaced; the guard then puts its line back
        await vm.AuthorizedKeysEventuallyAsync(
            c => c.Contains(vm.Managed.PublicKey, StringComparison.Ordinal) && c.Contains(vm.Hostile.PublicKey, StringComparison.Ordinal),
            "the managed key's return after the storm, with the storm's own key kept");
        Assert.True((await vm.SshAsync(vm.Managed)).Succeeded, "login with the managed key after the storm");
        var audit = await vm.Vm.ReadFileAsync("/var/log/latch/audit.jsonl", ct);
        Assert.Contains("\"action\":\"restore\"", audit, StringComparison.Ordinal);
        Assert.Contains("-rw-------", (await vm.Vm.ExecAsync(["ls", "-l", "/var/log/latch/audit.jsonl"], cancellationToken: ct)).Stdout, StringComparison.Ordinal);
        var guardStatus = (await vm.LatchdAsync("guard", "status")).Stdout;
        Assert.Contains("file guard: inotify, 1 user(s)", guardStatus, StringComparison.Ordinal);
        Assert.Contains("key vault: not configured", guardStatus, StringComparison.Ordinal);
        var status = await vm.LatchdAsync("status", "--json");
        using var report = System.Text.Json.JsonDocument.Parse(status.Stdout);
        var guard = report.RootElement.GetProperty("guard");
        Assert.True(guard.GetProperty("file_guard_running").GetBoolean(), status.Stdout);
        Assert.True(guard.GetProperty("file_guard").GetProperty("restores").GetInt64() >= 2, status.Stdout);
        Assert.Equal("not installed", guard.GetProperty("authorized_keys_command").GetString());
        Assert.Equal(1, report.RootElement.GetProperty("users")[0].GetProperty("valid").GetInt32());
    }

    [Fact]
    public async Task Ssh_directory_swapped_for_a_symlink_to_a_root_owned_stand_in_is_refused_and_nothing_there_is_written()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var vm = await GuardVm.StartAsync();
        await vm.LatchdAsync("keys", "add", "alice", vm.Managed.PublicKey);
        await vm.Vm.WriteFileAsync("/root/standin/authorized_keys", "root's own\n", "0600", cancellationToken: ct);
        var watch = await vm.StartFileGuardAsync();
        await vm.AuthorizedKeysEventuallyAsync(c => c.Contains(vm.Managed.PublicKey, StringComparison.Ordinal), "the first restore");

        // one atomic step, renameat2(RENAME_EXCHANGE) through the VM's python3: the guard recreates a deleted .ssh at
        // once, so an rm-then-ln swap loses that race on a busy machine
        var swapped = await vm.Vm.RunAsync(
            "ln -s /root/standin /home/alice/.ssh-swap && chown -h alice:alice /home/alice/.ssh-swap && " +
            "python3 -c 'import ctypes, sys; libc = ctypes.CDLL(None, use_errno=True); " +
            "sys.exit(0 if libc.renameat2(-100, b\"/home/alice/.ssh-swap\", -100, b\"/home/alice/.ssh\", 2) == 0 else ctypes.get_errno())' && " +
            "test -L /home/alice/.ssh", cancellationToken: ct);
        Assert.True(swapped.Succeeded, "could not swap .ssh for a symlink: " + swapped.Stderr);
        await watch.WaitForLineAsync(l => l.Contains("refused to restore keys for alice", StringComparison.Ordinal), TimeSpan.FromSeconds(30), ct);

        Assert.Equal("root's own\n", await vm.Vm.ReadFileAsync("/root/standin/authorized_keys", ct));
        Assert.Equal("authorized_keys\n", (await vm.Vm.ExecAsync(["ls", "-A", "/root/standin"], cancellationToken: ct)).Stdout);
        Assert.Contains("symbolic link", watch.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kill_9_during_restores_leaves_no_corrupt_file_and_loses_no_user_key()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var vm = await GuardVm.StartAsync();
        await vm.LatchdAsync("keys", "add", "alice", vm.Managed.PublicKey);
        var path = vm.Vm.Root + vm.User.AuthorizedKeysPath;
        var kills = int.TryParse(Environment.GetEnvironmentVariable("LATCH_GUARD_KILLS"), out var k) ? k : 200;
        for (var i = 0; i < kills; i++)
        {
            // the user's own lines, then a one-shot restore that is SIGKILLed at a random moment
            await File.WriteAllTextAsync(path, vm.Own.PublicKey + "\n" + vm.Hostile.PublicKey + "\n", ct);
            var restore = vm.Vm.StartProcess("latchd keys refresh", [GuardVm.Latchd, "keys", "refresh"]);
            await Task.Delay(Random.Shared.Next(0, 40), ct);
            _ = Latch.Rig.Interop.Libc.Kill(restore.Pid, 9);
            await restore.WaitForExitAsync(TimeSpan.FromSeconds(30), ct);

            var content = await File.ReadAllTextAsync(path, ct);
            Assert.True(content == vm.Own.PublicKey + "\n" + vm.Hostile.PublicKey + "\n"
                || content == vm.Own.PublicKey + "\n" + vm.Hostile.PublicKey + "\n" + vm.Managed.PublicKey + "\n",
                $"kill {i}: authorized_keys is neither the old nor the new version:\n{content}");
        }

        var leftovers = Directory.GetFiles(vm.Vm.Root + "/home/alice/.ssh").Select(Path.GetFileName).Where(n => n != "authorized_keys").ToList();
        Assert.True(leftovers.Count <= 1, "stale temp files pile up: " + string.Join(", ", leftovers));
    }
}

public sealed class GuardQuietOthersTests
{
    [Fact]
    public async Task Quiet_others_writes_reversible_settings_status_names_every_writer_and_uninstall_restores_them_byte_for_byte()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var vm = await GuardVm.StartAsync();
        const string cloudCfg = "cloud_init_modules:\n - seed_random\n - users-groups\n - ssh\ncloud_final_modules:\n - [ssh-import-id, always]\n";
        await vm.Vm.WriteFileAsync("/etc/cloud/cloud.cfg", cloudCfg, cancellationToken: ct);
        await vm.Vm.WriteFileAsync("/etc/cloud/cloud.cfg.d/50-azure.cfg", "disable_root: true\n", cancellationToken: ct);
        await vm.Vm.WriteFileAsync("/var/lib/waagent/provisioned", "", cancellationToken: ct);
        await vm.Vm.RunAsync("mkdir -p /var/lib/waagent/Microsoft.OSTCExtensions.VMAccessForLinux-1.5.18", cancellationToken: ct);
        var waagentBefore = await File.ReadAllBytesAsync(vm.Vm.Root + "/etc/waagent.conf", ct);

        var installed = await vm.LatchdAsync("guard", "install", "--quiet-others");
        var status = await vm.LatchdAsync("guard", "status");

        Assert.Contains("VMAccess: cannot be quieted", installed.Stdout, StringComparison.Ordinal);
        Assert.Contains("allow_public_ssh_keys: false", await vm.Vm.ReadFileAsync("/etc/cloud/cloud.cfg.d/99-latch.cfg", ct), StringComparison.Ordinal);
        Assert.Contains("\nProvisioning.Agent=disabled", await vm.Vm.ReadFileAsync("/etc/waagent.conf", ct), StringComparison.Ordinal);
        Assert.Contains("AuthorizedKeysCommand: active", status.Stdout, StringComparison.Ordinal);
        Assert.Contains("waagent: /etc/waagent.conf (provisioned): ", status.Stdout, StringComparison.Ordinal);
        Assert.Contains("cloud-init: key modules: users-groups, ssh, ssh-import-id; 50-azure.cfg: disable_root: true; 99-latch.cfg: allow_public_ssh_keys: false", status.Stdout, StringComparison.Ordinal);
        Assert.Contains("VMAccess: /var/lib/waagent/Microsoft.OSTCExtensions.VMAccessForLinux-1.5.18", status.Stdout, StringComparison.Ordinal);

        await vm.LatchdAsync("guard", "uninstall");

        Assert.Equal(waagentBefore, await File.ReadAllBytesAsync(vm.Vm.Root + "/etc/waagent.conf", ct));
        Assert.False(File.Exists(vm.Vm.Root + "/etc/cloud/cloud.cfg.d/99-latch.cfg"));
        Assert.Equal(cloudCfg, await vm.Vm.ReadFileAsync("/etc/cloud/cloud.cfg", ct));
        Assert.Contains("AuthorizedKeysCommand: not installed", (await vm.LatchdAsync("guard", "status")).Stdout, StringComparison.Ordinal);
    }
}
