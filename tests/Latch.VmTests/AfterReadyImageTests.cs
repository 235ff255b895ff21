using System.Net.Sockets;
using System.Text;
using Latch.Rig;

namespace Latch.VmTests;

/// <summary>
/// After Ready, <c>latchd run</c> re-executes itself (same pid) as the small latchd-guard image, which must still be the
/// whole key guard: restores, control socket, STOPPING=1; with Key Vault pull configured it hands over to latchd.
/// </summary>
public sealed class AfterReadyImageTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task After_Ready_the_service_runs_as_latchd_guard_which_restores_a_wiped_key_and_answers_on_the_control_socket()
    {
        await using var rig = await ProvisioningRig.StartAsync(cancellationToken: Ct);
        using var notify = NotifySocket(rig.Vm);
        await rig.Vm.WriteFileAsync("/etc/latch/latchd.toml", "[Provisioning]\nAgent = \"latch\"\n", cancellationToken: Ct);
        var daemon = await StartRunAsync(rig.Vm, notify);

        Assert.Equal(Latchd.GuardImageVmPath, VmProcess.ImagePath(rig.Vm, daemon.Pid));
        Assert.Equal("latchd run --after-ready", VmProcess.CommandLine(daemon.Pid));

        // the control socket: latchd guard status asks the running daemon
        var status = await Latchd.RunAsync(rig.Vm, ["guard", "status"], cancellationToken: Ct);
        Assert.True(status.Succeeded, status.Stdout + status.Stderr);
        Assert.Matches(@"file guard: inotify, 1 user\(s\)", status.Stdout);
        Assert.Contains("key vault: not configured", status.Stdout, StringComparison.Ordinal);

        // the file guard: another writer empties authorized_keys; the provisioned key comes back and logs in
        var emptied = await rig.Vm.RunAsync(": > /home/azureuser/.ssh/authorized_keys", cancellationToken: Ct);
        Assert.True(emptied.Succeeded, emptied.Stderr);
        await daemon.WaitForLineAsync(l => l.Contains("guard: restored", StringComparison.Ordinal), TimeSpan.FromSeconds(60), Ct);
        Assert.Contains(rig.Key.PublicKey.Split(' ')[1], await rig.Vm.ReadFileAsync("/home/azureuser/.ssh/authorized_keys", Ct), StringComparison.Ordinal);
        var login = await rig.SshAsync("true");
        Assert.True(login.Succeeded, $"ssh exit {login.ExitCode}: {login.Stderr}\n--- latchd ---\n{daemon.Log}");

        await StopsCleanlyAsync(daemon, notify);
    }

    [Fact]
    public async Task With_Key_Vault_pull_configured_latchd_guard_hands_the_guard_over_to_latchd_which_runs_the_pull()
    {
        await using var rig = await ProvisioningRig.StartAsync(cancellationToken: Ct);
        using var notify = NotifySocket(rig.Vm);
        // no vault answers at this address: the pull's own outcome is not what this test is about, only that it runs
        await rig.Vm.WriteFileAsync("/etc/latch/latchd.toml", "[Provisioning]\nAgent = \"latch\"\n\n[keyvault]\nvault_url = \"https://169.254.128.1:8443/\"\n", cancellationToken: Ct);
        var daemon = await StartRunAsync(rig.Vm, notify);

        Assert.Contains("handing the key guard over to latchd's own image", daemon.Log, StringComparison.Ordinal);
        Assert.Equal(Latchd.VmPath, VmProcess.ImagePath(rig.Vm, daemon.Pid));
        Assert.Equal("latchd run --after-ready", VmProcess.CommandLine(daemon.Pid));
        var status = await Latchd.RunAsync(rig.Vm, ["guard", "status"], cancellationToken: Ct);
        Assert.Contains("key vault: https://169.254.128.1:8443/: ", status.Stdout, StringComparison.Ordinal);

        await StopsCleanlyAsync(daemon, notify);
    }

    [Fact]
    public async Task Without_latchd_guard_next_to_it_latchd_re_executes_itself_and_the_guard_still_runs()
    {
        await using var rig = await ProvisioningRig.StartAsync(cancellationToken: Ct);
        using var notify = NotifySocket(rig.Vm);
        await rig.Vm.WriteFileAsync("/etc/latch/latchd.toml", "[Provisioning]\nAgent = \"latch\"\n", cancellationToken: Ct);
        File.Delete(rig.Vm.Root + Latchd.GuardImageVmPath);
        var daemon = await StartRunAsync(rig.Vm, notify);

        Assert.Equal(Latchd.VmPath, VmProcess.ImagePath(rig.Vm, daemon.Pid));
        Assert.Equal("latchd run --after-ready", VmProcess.CommandLine(daemon.Pid));
        var status = await Latchd.RunAsync(rig.Vm, ["guard", "status"], cancellationToken: Ct);
        Assert.Matches(@"file guard: inotify, 1 user\(s\)", status.Stdout);

        await daemon.StopAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(5), Ct));
    }

    [Fact]
    public async Task Latchd_guard_run_by_hand_refuses_any_other_command_line_and_names_what_to_run()
    {
        RigRequires.All();
        var guard = Path.Combine(Path.GetDirectoryName(await Latchd.EnsurePublishedAsync(Ct))!, "latchd-guard");

        string[][] commandLines = [[], ["--help"], ["run"], ["run", "--after-ready", "--extra"], ["guard", "watch"]];
        foreach (var args in commandLines)
        {
            var result = await Command.RunAsync([guard, .. args], cancellationToken: Ct);
            Assert.Equal(2, result.ExitCode);
            Assert.Contains("start the service with 'latchd run'", result.Stderr, StringComparison.Ordinal);
        }
    }

    /// <summary>systemd's side of Type=notify: a datagram socket latchd finds through NOTIFY_SOCKET.</summary>
    /// <summary>Starts <c>latchd run</c> under the notify socket and waits for READY=1 and the after-ready daemon's control socket.</summary>
    private static async Task<TrackedProcess> StartRunAsync(Vm vm, Socket notify)
    {
        var daemon = vm.StartProcess("latchd run", ["/usr/bin/env", "NOTIFY_SOCKET=/run/latchd-notify.sock", Latchd.VmPath, "run"]);
        Assert.StartsWith("READY=1\n", await ReceiveAsync(notify), StringComparison.Ordinal);
        await daemon.WaitForLineAsync(l => l.Contains("control: listening on", StringComparison.Ordinal), TimeSpan.FromSeconds(60), Ct);
        return daemon;
    }

    /// <summary>SIGTERM ends the daemon with exit 0, after it told systemd STOPPING=1.</summary>
    private static async Task StopsCleanlyAsync(TrackedProcess daemon, Socket notify)
    {
        await daemon.StopAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(5), Ct));
        Assert.Equal("STOPPING=1", await ReceiveAsync(notify));
    }

    private static Socket NotifySocket(Vm vm)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(vm.Root + "/run/latchd-notify.sock"));
        return socket;
    }

    private static async Task<string> ReceiveAsync(Socket socket)
    {
        var buffer = new byte[4096];
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TimeSpan.FromMinutes(3));
        var received = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
        return Encoding.UTF8.GetString(buffer, 0, received);
    }
}
