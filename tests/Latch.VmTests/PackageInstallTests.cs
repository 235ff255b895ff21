using System.Net.Sockets;
using System.Text;
using Latch.Rig;
using Latch.Testing;

namespace Latch.VmTests;

/// <summary>
/// The latch-agent .deb as an admin installs it: <c>dpkg -i</c> in a rig VM, latchd started the way its systemd unit
/// starts it (the rootfs runs no systemd, so the unit's own ExecStart, with a notify socket), provisioning against the
/// emulator and a real ssh login; then <c>dpkg --purge</c>, after which sshd must still accept the user's own key.
/// </summary>
public sealed class PackageInstallTests
{
    private const string AkcDropIn = "/etc/ssh/sshd_config.d/40-latch-akc.conf";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Agent_deb_installs_provisions_guards_and_purges_leaving_sshd_and_users_keys_working()
    {
        RigRequires.All();
        Requires.Tool("dotnet");
        Requires.Tool("dpkg-deb", "dpkg");
        Requires.Tool("dpkg-shlibdeps", "dpkg-dev");
        Requires.Tool("lintian");
        await using var host = await AzureHost.StartAsync(Ct);
        var deb = await BuildAgentDebAsync(Path.Combine(host.Directory, "deb"));
        var keys = Path.Combine(host.Directory, "keys");
        var admin = await SshKey.CreateAsync(keys, "admin", Ct);
        var own = await SshKey.CreateAsync(keys, "own", Ct);
        var managed = await SshKey.CreateAsync(keys, "managed", Ct);
        var vm = await host.AddVmAsync("vm1", new VmProfile { AdminUsername = "azureuser", PublicKeys = [admin.PublicKey] }, Ct);
        var alice = await vm.AddUserAsync("alice", [own.PublicKey], Ct);
        var emulator = await host.StartEmulatorAsync(cancellationToken: Ct);
        var sshdBefore = await SshdEffectiveAsync(vm);

        // install: files in place, the unit enabled for the next boot, and nothing of sshd's or any account changed
        File.Copy(deb, vm.Root + "/root/" + Path.GetFileName(deb));
        var install = await vm.ExecAsync(["dpkg", "-i", "/root/" + Path.GetFileName(deb)], timeout: TimeSpan.FromMinutes(3), cancellationToken: Ct);
        Assert.True(install.Succeeded, $"dpkg -i exited {install.ExitCode}:\n{install.Stdout}\n{install.Stderr}");
        var layout = await vm.RunAsync(
            "stat -c '%n %a %U' /usr/sbin/latchd /usr/sbin/latch-akc /usr/sbin/latchd-guard /etc/latch/latchd.toml /lib/systemd/system/latchd.service /var/lib/latch; "
            + "readlink /etc/systemd/system/multi-user.target.wants/latchd.service; dpkg-query -W -f='${Conffiles}' latch-agent",
            cancellationToken: Ct);
        Assert.Equal(
            [
                "/usr/sbin/latchd 755 root", "/usr/sbin/latch-akc 755 root", "/usr/sbin/latchd-guard 755 root", "/etc/latch/latchd.toml 644 root",
                "/lib/systemd/system/latchd.service 644 root", "/var/lib/latch 755 root", "/lib/systemd/system/latchd.service",
            ],
            layout.Stdout.Trim().Split('\n')[..7]);
        Assert.Contains("/etc/latch/latchd.toml", layout.Stdout, StringComparison.Ordinal);
        Assert.Null(await vm.TryReadFileAsync(AkcDropIn, Ct));
        Assert.Equal(sshdBefore, await SshdEffectiveAsync(vm));

        // as an image builder would: latchd provisions this VM (the shipped default only reports Ready)
        var config = await vm.ReadFileAsync("/etc/latch/latchd.toml", Ct);
        Assert.Contains("Agent = \"disabled\"\n", config, StringComparison.Ordinal);
        await vm.WriteFileAsync("/etc/latch/latchd.toml", config.Replace("Agent = \"disabled\"\n", "Agent = \"latch\"\n", StringComparison.Ordinal), cancellationToken: Ct);

        // systemd's part: the unit's ExecStart, Type=notify through NOTIFY_SOCKET (a datagram socket inside the VM's root)
        var unit = await vm.ReadFileAsync("/lib/systemd/system/latchd.service", Ct);
        Assert.Contains("Type=notify\n", unit, StringComparison.Ordinal);
        var execStart = unit.Split('\n').Single(l => l.StartsWith("ExecStart=", StringComparison.Ordinal))["ExecStart=".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(vm.Root + "/run/latch-test-notify"));
        var latchd = vm.StartProcess("latchd (the unit's ExecStart)", ["/usr/bin/env", "NOTIFY_SOCKET=/run/latch-test-notify", .. execStart]);

        var notified = await ReceiveUntilAsync(notify, "READY=1", latchd);
        Assert.Contains("READY=1", notified, StringComparison.Ordinal);
        await emulator.WaitForHealthStateAsync(vm.Name, "Ready", TimeSpan.FromSeconds(60), Ct);
        var login = await SshRetryAsync(vm, "azureuser", admin, "id -un && sudo -n true && echo sudo-ok");
        Assert.True(login.Succeeded, $"ssh with the provisioned key: {login.Stderr}\n--- latchd ---\n{latchd.Log}");
        Assert.Equal(["azureuser", "sudo-ok"], login.Stdout.Trim().Split('\n'));
        // after Ready the unit's main process (same pid) runs the package's small key guard image
        await latchd.WaitForLineAsync(l => l.Contains("control: listening on", StringComparison.Ordinal), TimeSpan.FromSeconds(60), Ct);
        Assert.Equal(Latchd.PackagedGuardImagePath, VmProcess.ImagePath(vm, latchd.Pid));

        // stopped as systemd's prerm would; from here the file guard (part of the service) does not re-append managed keys,
        // so a managed key that logs in below came through sshd's AuthorizedKeysCommand
        await latchd.StopAsync();
        var afterStop = new StringBuilder();
        var datagram = new byte[4096];
        while (notify.Available > 0)
        {
            afterStop.Append(Encoding.UTF8.GetString(datagram, 0, notify.Receive(datagram))).Append('\n');
        }

        Assert.Contains("STOPPING=1", afterStop.ToString(), StringComparison.Ordinal);

        // the guard as shipped: the drop-in 'latchd guard install' writes is the one the package carries for reference
        var guard = await vm.ExecAsync(["latchd", "guard", "install"], timeout: TimeSpan.FromMinutes(2), cancellationToken: Ct);
        Assert.True(guard.Succeeded, $"latchd guard install exited {guard.ExitCode}:\n{guard.Stdout}\n{guard.Stderr}");
        Assert.Equal(await vm.ReadFileAsync("/usr/share/latch/sshd_config.d/40-latch-akc.conf", Ct), await vm.ReadFileAsync(AkcDropIn, Ct));
        var added = await vm.ExecAsync(["latchd", "keys", "add", "alice", managed.PublicKey], cancellationToken: Ct);
        Assert.True(added.Succeeded, $"latchd keys add: {added.Stdout}\n{added.Stderr}");
        var akcLogin = await SshRetryAsync(vm, "alice", managed, "id -un");
        Assert.True(akcLogin.Succeeded, $"the managed key (only in latchd's store) through latch-akc: {akcLogin.Stderr}");
        Assert.DoesNotContain(managed.PublicKey.Split(' ')[1], await vm.ReadFileAsync(alice.AuthorizedKeysPath, Ct), StringComparison.Ordinal);

        // purge
        var azureuserKeys = await vm.ReadFileAsync("/home/azureuser/.ssh/authorized_keys", Ct);
        var aliceKeys = await vm.ReadFileAsync(alice.AuthorizedKeysPath, Ct);
        var purge = await vm.ExecAsync(["dpkg", "--purge", "latch-agent"], timeout: TimeSpan.FromMinutes(3), cancellationToken: Ct);
        Assert.True(purge.Succeeded, $"dpkg --purge exited {purge.ExitCode}:\n{purge.Stdout}\n{purge.Stderr}");

        var gone = await vm.RunAsync("for p in /usr/sbin/latchd /usr/sbin/latch-akc /usr/sbin/latchd-guard /etc/latch /var/lib/latch /var/log/latch " + AkcDropIn + "; do [ -e $p ] && echo $p; done; true", cancellationToken: Ct);
        Assert.Equal("", gone.Stdout.Trim());
        var check = await vm.ExecAsync(["/usr/sbin/sshd", "-t"], cancellationToken: Ct);
        Assert.True(check.Succeeded, $"sshd -t after purge: {check.Stderr}");
        Assert.DoesNotContain("authorizedkeyscommand /usr/sbin/latch-akc", (await SshdEffectiveAsync(vm)), StringComparison.Ordinal);
        Assert.Equal(azureuserKeys, await vm.ReadFileAsync("/home/azureuser/.ssh/authorized_keys", Ct));
        Assert.Equal(aliceKeys, await vm.ReadFileAsync(alice.AuthorizedKeysPath, Ct));

        var ownLogin = await SshRetryAsync(vm, "alice", own, "id -un");
        Assert.True(ownLogin.Succeeded, $"the user's own key after purge: {ownLogin.Stderr}");
        Assert.Equal("alice", ownLogin.Stdout.Trim());
        Assert.True((await SshRetryAsync(vm, "azureuser", admin, "true")).Succeeded, "the provisioned key stays in authorized_keys after purge");
        var managedAfter = await vm.SshAsync("alice", managed.PrivateKeyPath, "true", cancellationToken: Ct);
        Assert.False(managedAfter.Succeeded, "after purge the managed key (only ever in latchd's store) must no longer log in");
    }

    /// <summary>
    /// packaging/build-deb.sh agent into <paramref name="output"/>, from the rig's NativeAOT publish of this tree (cached by
    /// source hash and shared with the other VM tests, so CI publishes latchd once); lintian errors fail it.
    /// </summary>
    private static async Task<string> BuildAgentDebAsync(string output)
    {
        var binaries = Path.GetDirectoryName(await Latchd.EnsurePublishedAsync(Ct))!;
        var result = await Command.RunAsync(
            ["bash", Path.Combine(RepoPaths.Root, "packaging", "build-deb.sh"), "--lintian", "--agent-bin", binaries, "--out", output, "agent"],
            timeout: TimeSpan.FromMinutes(30),
            cancellationToken: Ct);
        Assert.True(result.Succeeded, $"packaging/build-deb.sh exited {result.ExitCode}:\n{result.Stderr}");
        var deb = result.Stdout.Trim().Split('\n')[^1];
        Assert.Equal(Path.Combine(output, "latch-agent_"), deb[..(output.Length + 13)]);
        Assert.EndsWith("_amd64.deb", deb, StringComparison.Ordinal);
        return deb;
    }

    private static async Task<string> SshdEffectiveAsync(Vm vm) =>
        (await vm.ExecAsync(["/usr/sbin/sshd", "-T"], cancellationToken: Ct)).Stdout;

    /// <summary>ssh, retried briefly while sshd re-executes after a reload (a refused key is an answer, not retried).</summary>
    private static async Task<CommandResult> SshRetryAsync(Vm vm, string user, SshKey key, string command)
    {
        CommandResult result = null!;
        for (var attempt = 0; attempt < 20; attempt++)
        {
            result = await vm.SshAsync(user, key.PrivateKeyPath, command, cancellationToken: Ct);
            if (result.ExitCode != 255 || result.Stderr.Contains("Permission denied", StringComparison.Ordinal))
            {
                return result;
            }

            await Task.Delay(250, Ct);
        }

        return result;
    }

    /// <summary>Collects sd_notify datagrams until one contains <paramref name="wanted"/>; fails when latchd exits first.</summary>
    private static async Task<string> ReceiveUntilAsync(Socket socket, string wanted, TrackedProcess latchd)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TimeSpan.FromMinutes(3));
        var seen = new StringBuilder();
        var buffer = new byte[4096];
        while (true)
        {
            var receive = socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token).AsTask();
            while (!receive.IsCompleted)
            {
                if (latchd.HasExited)
                {
                    Assert.Fail($"latchd exited before {wanted}; notifications so far: '{seen}'\n{latchd.Log}");
                }

                await Task.WhenAny(receive, Task.Delay(200, Ct));
            }

            seen.Append(Encoding.UTF8.GetString(buffer, 0, await receive)).Append('\n');
            if (seen.ToString().Contains(wanted, StringComparison.Ordinal))
            {
                return seen.ToString();
            }
        }
    }
}
