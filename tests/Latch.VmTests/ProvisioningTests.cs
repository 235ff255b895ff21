using Latch.Testing;
using Latch.Rig;

namespace Latch.VmTests;

/// <summary>latchd (the NativeAOT binary) provisioning real rig VMs against the emulator, then real ssh logins.</summary>
public sealed class ProvisioningTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Imds_provisioning_reports_ready_and_the_key_logs_in_with_sudo_and_password_login_refused()
    {
        await using var rig = await ProvisioningRig.StartAsync(cancellationToken: Ct);

        var result = await rig.ProvisionAsync();

        Assert.True(result.Succeeded, rig.Explain(result));
        var reports = await rig.ReportsAsync();
        Assert.Equal(("NotReady", "Provisioning", "Starting"), reports[0]);
        Assert.Equal("Ready", reports[^1].State);
        Assert.DoesNotContain(reports, r => r.SubStatus == "ProvisioningFailed");

        var login = await rig.SshAsync("id -un && sudo -n true && echo sudo-ok && hostname");
        Assert.True(login.Succeeded, $"ssh: {login.Stderr}\n{rig.Explain(result)}");
        Assert.Equal(["azureuser", "sudo-ok", "vm1"], login.Stdout.Trim().Split('\n'));

        var effective = await rig.Vm.ExecAsync(["/usr/sbin/sshd", "-T"], cancellationToken: Ct);
        Assert.Contains("passwordauthentication no\n", effective.Stdout, StringComparison.Ordinal);
        Assert.Contains("permitrootlogin no\n", effective.Stdout, StringComparison.Ordinal);
        Assert.Contains("kbdinteractiveauthentication no\n", effective.Stdout, StringComparison.Ordinal);
        var passwordOnly = await rig.SshAsync("true", ["-o", "PreferredAuthentications=password,keyboard-interactive", "-o", "PubkeyAuthentication=no"]);
        Assert.NotEqual(0, passwordOnly.ExitCode);
        Assert.Contains("Permission denied (publickey)", passwordOnly.Stderr, StringComparison.Ordinal);

        Assert.Equal(rig.Vm.VmId + "\n", await rig.Vm.ReadFileAsync("/var/lib/latch/provisioned", Ct));
        var modes = await rig.Vm.RunAsync("stat -c '%a %U' /home/azureuser/.ssh/authorized_keys /etc/sudoers.d/latch-azureuser /var/lib/latch /var/lib/latch/state.json /var/lib/latch/keys/azureuser /etc/ssh/sshd_config.d/50-latch.conf", cancellationToken: Ct);
        Assert.Equal(["600 azureuser", "440 root", "755 root", "600 root", "644 root", "644 root"], modes.Stdout.Trim().Split('\n'));
        Assert.Contains("key\tprovisioning\t-\t-\tssh-ed25519\t" + rig.Key.PublicKey.Split(' ')[1], await rig.Vm.ReadFileAsync("/var/lib/latch/keys/azureuser", Ct), StringComparison.Ordinal);
        Assert.Equal("!", (await rig.Vm.RunAsync("getent shadow azureuser | cut -d: -f2 | cut -c1", cancellationToken: Ct)).Stdout.Trim());

        // waagent's host key report: the thumbprint of the (regenerated, per the image's waagent.conf) host key
        Assert.Contains(await rig.RequestsAsync("wireserver"), r => r.StartsWith("POST /machine?comp=roleProperties -> 20", StringComparison.Ordinal));
        Assert.Contains("reported the SSH host key thumbprint SHA256", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_second_run_after_a_reboot_changes_nothing_and_reports_ready_again()
    {
        await using var rig = await ProvisioningRig.StartAsync(cancellationToken: Ct);
        var first = await rig.ProvisionAsync();
        Assert.True(first.Succeeded, rig.Explain(first));
        var keysBefore = await rig.Vm.ReadFileAsync("/home/azureuser/.ssh/authorized_keys", Ct);
        var passwdBefore = await rig.Vm.ReadFileAsync("/etc/passwd", Ct);

        var second = await rig.ProvisionAsync();

        Assert.True(second.Succeeded, rig.Explain(second));
        Assert.Contains("already provisioned", second.Stderr, StringComparison.Ordinal);
        Assert.Equal(keysBefore, await rig.Vm.ReadFileAsync("/home/azureuser/.ssh/authorized_keys", Ct));
        Assert.Equal(passwdBefore, await rig.Vm.ReadFileAsync("/etc/passwd", Ct));
        Assert.Single(passwdBefore.Split('\n'), l => l.StartsWith("azureuser:", StringComparison.Ordinal));
        Assert.Single(keysBefore.Split('\n'), l => l.Length > 0);
        var reports = await rig.ReportsAsync();
        Assert.Equal(2, reports.Count(r => r.State == "Ready"));
        Assert.Equal("Ready", reports[^1].State);
    }

    [Fact]
    public async Task A_new_vm_id_provisions_again_without_duplicating_the_user_or_its_key()
    {
        await using var rig = await ProvisioningRig.StartAsync(cancellationToken: Ct);
        await rig.ProvisionSucceedsAsync();
        await rig.Vm.WriteFileAsync("/var/lib/latch/provisioned", "00000000-0000-4000-8000-00000000dead\n", cancellationToken: Ct);

        var again = await rig.ProvisionAsync();

        Assert.True(again.Succeeded, rig.Explain(again));
        Assert.Contains("a new instance, provisioning again", again.Stderr, StringComparison.Ordinal);
        Assert.Single((await rig.Vm.ReadFileAsync("/etc/passwd", Ct)).Split('\n'), l => l.StartsWith("azureuser:", StringComparison.Ordinal));
        Assert.Single((await rig.Vm.ReadFileAsync("/home/azureuser/.ssh/authorized_keys", Ct)).Split('\n'), l => l.Length > 0);
        Assert.True((await rig.SshAsync("true")).Succeeded);
    }

    [Fact]
    public async Task Existing_authorized_keys_lines_with_options_stay_byte_for_byte()
    {
        SshKey userKey = null!;
        const string optionsLine = "restrict,command=\"/usr/bin/uptime\",from=\"169.254.0.0/16\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOdmhiGFVXt3ygig8V15U0ChGy5iZAmr3MrhKHSKPIRi backup job";
        await using var rig = await ProvisioningRig.StartAsync(
            beforeEmulator: async vm =>
            {
                userKey = await SshKey.CreateAsync(Path.Combine(vm.Directory, "user-keys"), "mine", Ct);
                await vm.AddUserAsync("azureuser", [userKey.PublicKey, "# my own comment", optionsLine], Ct);
            },
            cancellationToken: Ct);
        var before = await rig.Vm.ReadFileAsync("/home/azureuser/.ssh/authorized_keys", Ct);

        var result = await rig.ProvisionAsync();

        Assert.True(result.Succeeded, rig.Explain(result));
        var after = await rig.Vm.ReadFileAsync("/home/azureuser/.ssh/authorized_keys", Ct);
        Assert.StartsWith(before, after, StringComparison.Ordinal);
        Assert.Equal(before + rig.Key.PublicKey + "\n", after);
        Assert.True((await rig.Vm.SshAsync("azureuser", userKey.PrivateKeyPath, "true", cancellationToken: Ct)).Succeeded, "the user's own key still logs in");
        Assert.True((await rig.SshAsync("true")).Succeeded, "the provisioned key logs in");
    }

    [Fact]
    public async Task Ovf_env_file_alone_provisions_a_password_user_with_password_login_allowed()
    {
        const string password = "Rig-Passw0rd-never-logged";
        await using var rig = await ProvisioningRig.StartAsync(
            key => new VmProfile { AdminUsername = "azureuser", PublicKeys = [key.PublicKey], AdminPassword = password, DisablePasswordAuthentication = false },
            cancellationToken: Ct);
        var (ovfEnv, _) = await rig.WriteMediaAsync();
        await rig.Vm.WriteFileAsync("/root/media/ovf-env.xml", await File.ReadAllTextAsync(ovfEnv, Ct), "0600", cancellationToken: Ct);
        await rig.Vm.WriteFileAsync("/etc/latch/latchd.toml", "[Latch]\nOvfEnvPath = \"/root/media/ovf-env.xml\"\nUseImds = false\n", cancellationToken: Ct);

        var result = await rig.ProvisionAsync();

        Assert.True(result.Succeeded, rig.Explain(result));
        Assert.DoesNotContain(password, result.Stderr + result.Stdout, StringComparison.Ordinal);
        Assert.Contains("user, password and host name from ovf-env.xml", result.Stderr, StringComparison.Ordinal);
        Assert.Equal("Ready", (await rig.ReportsAsync())[^1].State);

        var hash = (await rig.Vm.RunAsync("getent shadow azureuser | cut -d: -f2", cancellationToken: Ct)).Stdout.Trim();
        Assert.StartsWith("$6$", hash, StringComparison.Ordinal);
        var salt = hash.Split('$')[2];
        Assert.Equal(10, salt.Length);
        var expected = await Command.RunAsync([Requires.Tool("openssl"), "passwd", "-6", "-salt", salt, "-stdin"], password + "\n", cancellationToken: Ct);
        Assert.Equal(expected.Stdout.Trim(), hash);

        var effective = await rig.Vm.ExecAsync(["/usr/sbin/sshd", "-T"], cancellationToken: Ct);
        Assert.Contains("passwordauthentication yes\n", effective.Stdout, StringComparison.Ordinal);
        var offered = await rig.SshAsync("true", ["-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no"]);
        Assert.Contains("Permission denied (publickey,password)", offered.Stderr, StringComparison.Ordinal);
        Assert.EndsWith("azureuser ALL=(ALL) ALL\n", await rig.Vm.ReadFileAsync("/etc/sudoers.d/latch-azureuser", Ct), StringComparison.Ordinal);
        Assert.True((await rig.SshAsync("id -un")).Succeeded);
    }

    [Fact]
    public async Task Ovf_env_and_imds_together_take_the_user_from_ovf_env_and_the_union_of_keys()
    {
        SshKey second = null!;
        await using var rig = await ProvisioningRig.StartAsync(
            key => new VmProfile { AdminUsername = "azureuser", PublicKeys = [key.PublicKey] },
            beforeEmulator: async vm => second = await SshKey.CreateAsync(Path.Combine(vm.Directory, "second-key"), "second", Ct),
            cancellationToken: Ct);
        var (ovfEnv, _) = await rig.WriteMediaAsync();
        // ovf-env.xml carries one more key than IMDS: both must land, the shared one once
        var xml = (await File.ReadAllTextAsync(ovfEnv, Ct)).Replace(rig.Key.PublicKey, second.PublicKey, StringComparison.Ordinal);
        await rig.Vm.WriteFileAsync("/root/media/ovf-env.xml", xml, "0600", cancellationToken: Ct);
        await rig.Vm.WriteFileAsync("/etc/latch/latchd.toml", "[Latch]\nOvfEnvPath = \"/root/media/ovf-env.xml\"\n", cancellationToken: Ct);

        var result = await rig.ProvisionAsync();

        Assert.True(result.Succeeded, rig.Explain(result));
        Assert.Contains("user, password and host name from ovf-env.xml", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("public keys: union of ovf-env.xml (1) and IMDS (1)", result.Stderr, StringComparison.Ordinal);
        var keys = (await rig.Vm.ReadFileAsync("/home/azureuser/.ssh/authorized_keys", Ct)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal([second.PublicKey, rig.Key.PublicKey], keys);
        Assert.True((await rig.SshAsync("true")).Succeeded);
        Assert.True((await rig.Vm.SshAsync("azureuser", second.PrivateKeyPath, "true", cancellationToken: Ct)).Succeeded);
        Assert.Equal("Ready", (await rig.ReportsAsync())[^1].State);
    }

    [Fact]
    public async Task The_provisioning_dvd_is_read_with_ovf_env_precedence_or_when_unmountable_imds_is_used()
    {
        Requires.Tool("losetup", "mount");
        Requires.Tool("genisoimage");
        await using var rig = await ProvisioningRig.StartAsync(cancellationToken: Ct);
        var (_, iso) = await rig.WriteMediaAsync();
        Assert.NotNull(iso);
        var loop = (await Command.RunAsync(["losetup", "--find", "--show", "--read-only", iso!], cancellationToken: Ct)).Stdout.Trim();
        Assert.StartsWith("/dev/loop", loop, StringComparison.Ordinal);
        try
        {
            // the VM's DVD drive: a block node /dev/sr0 for the loop device (waagent's device pattern matches sr0)
            var numbers = (await Command.RunAsync(["stat", "-c", "%t %T", loop], cancellationToken: Ct)).Stdout.Trim().Split(' ');
            var made = await Command.RunAsync(["mknod", rig.Vm.Root + "/dev/sr0", "b", Convert.ToInt32(numbers[0], 16).ToString(System.Globalization.CultureInfo.InvariantCulture), Convert.ToInt32(numbers[1], 16).ToString(System.Globalization.CultureInfo.InvariantCulture)], cancellationToken: Ct);
            Assert.True(made.Succeeded, made.Stderr);

            var result = await rig.ProvisionAsync();

            Assert.True(result.Succeeded, rig.Explain(result));
            if (!KernelMountsIso9660())
            {
                // this kernel (the project's CI machines included) has no iso9660/udf driver and none can be loaded: latchd
                // found /dev/sr0, tried waagent's mount, and fell back to IMDS; the rest of this path cannot run here
                Assert.Contains("cannot mount /dev/sr0", result.Stderr, StringComparison.Ordinal);
                Assert.Contains("user and host name from IMDS osProfile (no ovf-env.xml)", result.Stderr, StringComparison.Ordinal);
                Assert.Equal("Ready", (await rig.ReportsAsync())[^1].State);
                // not a skip: what this kernel allows is asserted above, and CI counts it as the test it is
                return;
            }

            Assert.True(result.Stderr.Contains("found ovf-env.xml on /dev/sr0", StringComparison.Ordinal), rig.Explain(result));
            Assert.Contains("public keys: union of ovf-env.xml (1) and IMDS (1)", result.Stderr, StringComparison.Ordinal);
            Assert.Equal("Ready", (await rig.ReportsAsync())[^1].State);
            Assert.Single((await rig.Vm.ReadFileAsync("/home/azureuser/.ssh/authorized_keys", Ct)).Split('\n'), l => l.Length > 0);
            Assert.DoesNotContain("/mnt/cdrom/secure", await rig.Vm.ReadFileAsync("/proc/self/mounts", Ct), StringComparison.Ordinal);
            Assert.True((await rig.SshAsync("true")).Succeeded);
        }
        finally
        {
            await Command.RunAsync(["umount", rig.Vm.Root + "/mnt/cdrom/secure"], cancellationToken: CancellationToken.None);
            await Command.RunAsync(["losetup", "-d", loop], cancellationToken: CancellationToken.None);
        }
    }

    private static bool KernelMountsIso9660() =>
        File.ReadAllText("/proc/filesystems").Split('\n').Any(l => l.Trim() is "iso9660" or "udf");

    [Fact]
    public async Task A_5xx_storm_and_410_on_the_goal_state_and_an_imds_timeout_still_end_ready()
    {
        await using var rig = await ProvisioningRig.StartAsync(cancellationToken: Ct);
        await rig.AddFaultAsync("wireserver:status=503,count=3");
        await rig.AddFaultAsync("wireserver:gone,path=/machine,count=2");
        await rig.AddFaultAsync("imds:status=500,count=2");
        await rig.AddFaultAsync("imds:timeout=20000,count=1");

        var result = await rig.ProvisionAsync();

        Assert.True(result.Succeeded, rig.Explain(result));
        Assert.Equal("Ready", (await rig.ReportsAsync())[^1].State);
        Assert.Contains("retrying", result.Stderr, StringComparison.Ordinal);
        Assert.True((await rig.SshAsync("true")).Succeeded);
    }

    [Fact]
    public async Task Imds_refusing_with_403_and_no_ovf_env_reports_provisioning_failed()
    {
        await using var rig = await ProvisioningRig.StartAsync(cancellationToken: Ct);
        await rig.AddFaultAsync("imds:status=403");
        var passwd = await rig.Vm.ReadFileAsync("/etc/passwd", Ct);

        var result = await rig.ProvisionAsync();

        Assert.Equal(1, result.ExitCode);
        var last = (await rig.ReportsAsync())[^1];
        Assert.Equal(("NotReady", "ProvisioningFailed"), (last.State, last.SubStatus));
        Assert.StartsWith("latchd: step 'imds' failed (ImdsUnavailable)", last.Description, StringComparison.Ordinal);
        Assert.Equal(passwd, await rig.Vm.ReadFileAsync("/etc/passwd", Ct));
        Assert.Null(await rig.Vm.TryReadFileAsync("/var/lib/latch/provisioned", Ct));
    }

    [Fact]
    public async Task A_reserved_user_name_reports_not_ready_and_creates_nothing()
    {
        await using var rig = await ProvisioningRig.StartAsync(key => new VmProfile { AdminUsername = "daemon", PublicKeys = [key.PublicKey] }, cancellationToken: Ct);
        var passwd = await rig.Vm.ReadFileAsync("/etc/passwd", Ct);

        var result = await rig.ProvisionAsync();

        Assert.Equal(1, result.ExitCode);
        var reports = await rig.ReportsAsync();
        Assert.DoesNotContain(reports, r => r.State == "Ready");
        Assert.StartsWith("latchd: step 'user' failed (InvalidUserName)", reports[^1].Description, StringComparison.Ordinal);
        Assert.Equal(passwd, await rig.Vm.ReadFileAsync("/etc/passwd", Ct));
        Assert.Null(await rig.Vm.TryReadFileAsync("/etc/sudoers.d/latch-daemon", Ct));
        Assert.Null(await rig.Vm.TryReadFileAsync("/etc/ssh/sshd_config.d/50-latch.conf", Ct));
    }

    [Fact]
    public async Task A_symlinked_home_reports_not_ready_and_writes_no_key()
    {
        await using var rig = await ProvisioningRig.StartAsync(
            beforeEmulator: async vm =>
            {
                await vm.AddUserAsync("azureuser", cancellationToken: Ct);
                var moved = await vm.RunAsync("mv /home/azureuser /srv/azureuser && ln -s /srv/azureuser /home/azureuser", cancellationToken: Ct);
                Assert.True(moved.Succeeded, moved.Stderr);
            },
            cancellationToken: Ct);

        var result = await rig.ProvisionAsync();

        Assert.Equal(1, result.ExitCode);
        var last = (await rig.ReportsAsync())[^1];
        Assert.StartsWith("latchd: step 'user' failed (SymlinkedHome)", last.Description, StringComparison.Ordinal);
        Assert.Null(await rig.Vm.TryReadFileAsync("/srv/azureuser/.ssh/authorized_keys", Ct));
    }

    [Fact]
    public async Task A_user_recreated_with_another_uid_is_not_adopted_by_a_new_instance()
    {
        await using var rig = await ProvisioningRig.StartAsync(cancellationToken: Ct);
        await rig.ProvisionSucceedsAsync();
        var swapped = await rig.Vm.RunAsync(
            "userdel -r azureuser && useradd -m -u 1500 -s /bin/bash azureuser && echo 00000000-0000-4000-8000-00000000beef > /var/lib/latch/provisioned",
            cancellationToken: Ct);
        Assert.True(swapped.Succeeded, swapped.Stderr);

        var result = await rig.ProvisionAsync();

        Assert.Equal(1, result.ExitCode);
        var last = (await rig.ReportsAsync())[^1];
        Assert.Equal(("NotReady", "ProvisioningFailed"), (last.State, last.SubStatus));
        Assert.StartsWith("latchd: step 'user' failed (UidChanged)", last.Description, StringComparison.Ordinal);
        Assert.Null(await rig.Vm.TryReadFileAsync("/home/azureuser/.ssh/authorized_keys", Ct));
    }

    [Fact]
    public async Task Run_as_a_notify_service_sends_ready_after_the_ready_report_and_stops_cleanly_on_sigterm()
    {
        await using var rig = await ProvisioningRig.StartAsync(cancellationToken: Ct);
        // systemd's side of Type=notify: a datagram socket latchd finds through NOTIFY_SOCKET
        var socketPath = rig.Vm.Root + "/run/latchd-notify.sock";
        using var notify = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Unspecified);
        notify.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(socketPath));

        // Debian's waagent.conf names cloud-init as the provisioning agent; latchd run stands aside for it unless told
        await rig.Vm.WriteFileAsync("/etc/latch/latchd.toml", "[Provisioning]\nAgent = \"latch\"\n", cancellationToken: Ct);
        var daemon = rig.Vm.StartProcess("latchd run", ["/usr/bin/env", "NOTIFY_SOCKET=/run/latchd-notify.sock", Latchd.VmPath, "run"]);
        var buffer = new byte[4096];
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TimeSpan.FromMinutes(3));
        var received = await notify.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, deadline.Token);
        var message = System.Text.Encoding.UTF8.GetString(buffer, 0, received);

        Assert.StartsWith("READY=1\n", message, StringComparison.Ordinal);
        Assert.Equal("Ready", (await rig.ReportsAsync())[^1].State);
        Assert.False(daemon.HasExited, daemon.Log);
        var login = await rig.SshAsync("true");
        Assert.True(login.Succeeded, $"ssh exit {login.ExitCode}: {login.Stderr}\n--- latchd ---\n{daemon.Log}\n--- sshd ---\n{rig.Vm.Sshd?.Log}");

        await daemon.StopAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(5), Ct));
        received = await notify.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, deadline.Token);
        Assert.Equal("STOPPING=1", System.Text.Encoding.UTF8.GetString(buffer, 0, received));
        Assert.Contains("stopping", daemon.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deprovision_refuses_without_confirmation_and_with_force_removes_host_keys_marker_and_user()
    {
        await using var rig = await ProvisioningRig.StartAsync(cancellationToken: Ct);
        await rig.ProvisionSucceedsAsync();

        var refused = await Latchd.RunAsync(rig.Vm, ["deprovision", "--user"], stdin: "", cancellationToken: Ct);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("Run with --force", refused.Stdout, StringComparison.Ordinal);
        Assert.NotNull(await rig.Vm.TryReadFileAsync("/var/lib/latch/provisioned", Ct));

        var done = await Latchd.RunAsync(rig.Vm, ["deprovision", "--user", "--force"], cancellationToken: Ct);

        Assert.True(done.ExitCode == 0, done.Stdout + done.Stderr);
        Assert.Contains("remove 1 provisioned key(s) from the key guard's store /var/lib/latch/keys/azureuser", done.Stdout, StringComparison.Ordinal);
        Assert.Null(await rig.Vm.TryReadFileAsync("/var/lib/latch/keys/azureuser", Ct));
        Assert.Null(await rig.Vm.TryReadFileAsync("/var/lib/latch/provisioned", Ct));
        Assert.Null(await rig.Vm.TryReadFileAsync("/etc/sudoers.d/latch-azureuser", Ct));
        Assert.Equal("", (await rig.Vm.RunAsync("ls /etc/ssh | grep ssh_host_ || true", cancellationToken: Ct)).Stdout);
        Assert.DoesNotContain("azureuser:", await rig.Vm.ReadFileAsync("/etc/passwd", Ct), StringComparison.Ordinal);
        Assert.Equal("localhost\n", await rig.Vm.ReadFileAsync("/etc/hostname", Ct));
    }
}
