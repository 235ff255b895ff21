using System.Text.Json;
using Latch.Rig;

namespace Latch.VmTests.Cli;

/// <summary>
/// The latch CLI against rig VMs: a real Debian userland with its own sshd in a network namespace, ARM run-command
/// from latch-emulator running the sync script as root inside the VM, latchd (NativeAOT) for the agent method, and a
/// real ssh login at the end. latch runs as a process in the azure host, like an operator's shell.
/// </summary>
public sealed class CliInVmTests
{
    private const string User = "azureuser";

    private static async Task<Vm> AddVmAsync(AzureHost host, string name)
    {
        var vm = await host.AddVmAsync(name, new VmProfile { AdminUsername = User }, TestContext.Current.CancellationToken);
        await vm.AddUserAsync(User, cancellationToken: TestContext.Current.CancellationToken); // no keys yet: latch brings them
        return vm;
    }

    private static string Describe(CommandResult result, AzureHost host) =>
        $"exit {result.ExitCode}\n--- stdout\n{result.Stdout}\n--- stderr\n{result.Stderr}\n--- emulator\n{host.Emulator?.Process.Log}";

    [Fact]
    public async Task Connect_syncs_the_missing_key_by_run_command_into_the_vm_and_ssh_logs_in()
    {
        RigRequires.All();
        var ct = TestContext.Current.CancellationToken;
        await using var host = await AzureHost.StartAsync(ct);
        var vm = await AddVmAsync(host, "vm1");
        await host.StartEmulatorAsync(cancellationToken: ct);
        var latch = await RigLatch.CreateAsync(host, ct);
        Assert.Null(await vm.TryReadFileAsync($"/home/{User}/.ssh/authorized_keys", ct));

        // auto: sshd answers but refuses the key, so latch falls back to run-command, then execs ssh
        var first = await latch.RunAsync(["connect", "vm1", "--", .. RigLatch.SshOptions, "echo", "logged-in-as", "$(id -un)", "on", "$(hostname)"]);
        Assert.True(first.ExitCode == 0, Describe(first, host));
        Assert.Contains($"logged-in-as {User} on vm1", first.Stdout, StringComparison.Ordinal);
        Assert.Equal(latch.LocalKey.PublicKey + "\n", await vm.ReadFileAsync($"/home/{User}/.ssh/authorized_keys", ct));
        var modes = await vm.RunAsync($"stat -c '%a %U' /home/{User}/.ssh /home/{User}/.ssh/authorized_keys", cancellationToken: ct);
        Assert.Equal($"700 {User}\n600 {User}\n", modes.Stdout);
        Assert.Equal(1, await latch.RunCommandCountAsync());

        // key present: the ssh probe finds it, nothing is written, no run-command
        var second = await latch.RunAsync(["connect", "vm1", "--", .. RigLatch.SshOptions, "exit", "3"]);
        Assert.True(second.ExitCode == 3, Describe(second, host));
        Assert.Equal(latch.LocalKey.PublicKey + "\n", await vm.ReadFileAsync($"/home/{User}/.ssh/authorized_keys", ct));
        Assert.Equal(1, await latch.RunCommandCountAsync());
        var records = latch.AuditRecords();
        Assert.Equal(2, records.Count);
        Assert.True(records[0].GetProperty("synced").GetBoolean());
        Assert.Equal("run-command", records[0].GetProperty("method").GetString());
        Assert.True(records[1].GetProperty("already_present").GetBoolean());
        Assert.Equal("ssh", records[1].GetProperty("method").GetString());
    }

    [Fact]
    public async Task Keys_sync_puts_the_key_on_several_vms_and_each_accepts_a_login()
    {
        RigRequires.All();
        var ct = TestContext.Current.CancellationToken;
        await using var host = await AzureHost.StartAsync(ct);
        Vm[] vms = [await AddVmAsync(host, "vm1"), await AddVmAsync(host, "vm2"), await AddVmAsync(host, "vm3")];
        await host.StartEmulatorAsync(cancellationToken: ct);
        var latch = await RigLatch.CreateAsync(host, ct);

        var sync = await latch.RunAsync("keys", "sync", "--all", "--sync-method", "run-command", "--json");
        Assert.True(sync.ExitCode == 0, Describe(sync, host));
        using var report = JsonDocument.Parse(sync.Stdout);
        Assert.True(report.RootElement.GetProperty("ok").GetBoolean());
        var states = report.RootElement.GetProperty("vms").EnumerateArray().ToDictionary(r => r.GetProperty("vm").GetString()!, r => r.GetProperty("state").GetString());
        Assert.Equal(["vm1", "vm2", "vm3"], states.Keys.Order(StringComparer.Ordinal));
        Assert.All(states.Values, s => Assert.Equal("appended", s));
        foreach (var vm in vms)
        {
            Assert.Equal(latch.LocalKey.PublicKey + "\n", await vm.ReadFileAsync($"/home/{User}/.ssh/authorized_keys", ct));
            var login = await vm.SshAsync(User, latch.LocalKey.PrivateKeyPath, "hostname", cancellationToken: ct);
            Assert.True(login.Succeeded, $"{vm.Name}: {login.Stderr}");
            Assert.Equal(vm.Name, login.Stdout.Trim());
        }

        // again: every VM already has it, nothing is appended twice
        var again = await latch.RunAsync("keys", "sync", "--all", "--sync-method", "run-command", "--json");
        Assert.True(again.ExitCode == 0, Describe(again, host));
        using var second = JsonDocument.Parse(again.Stdout);
        Assert.All(second.RootElement.GetProperty("vms").EnumerateArray(), r => Assert.Equal("present", r.GetProperty("state").GetString()));
        Assert.Equal(latch.LocalKey.PublicKey + "\n", await vms[1].ReadFileAsync($"/home/{User}/.ssh/authorized_keys", ct));
    }

    [Fact]
    public async Task Connect_by_the_agent_method_has_latchd_pull_the_key_from_Key_Vault_and_ssh_logs_in()
    {
        RigRequires.All();
        var ct = TestContext.Current.CancellationToken;
        await using var host = await AzureHost.StartAsync(ct);
        var vm = await AddVmAsync(host, "vm1");
        await Latchd.InstallAsync(vm, ct);
        var emulator = await host.StartEmulatorAsync(await RigLatch.ScenarioWithVaultAsync(host, ct), cancellationToken: ct);
        await vm.WriteFileAsync("/etc/latch/emulator-ca.pem", await File.ReadAllTextAsync(emulator.CaCertificatePath, ct), cancellationToken: ct);
        await vm.WriteFileAsync("/etc/latch/latchd.toml", """
            [keyvault]
            vault_url = "https://169.254.128.1:8443/"
            ca_certificate = "/etc/latch/emulator-ca.pem"
            verify_challenge_resource = false
            """, cancellationToken: ct);
        var latch = await RigLatch.CreateAsync(host, ct);

        // the operator's key for vm1 lives in Key Vault (latch-vm1-key, private key), where latchd looks for it
        var generated = await latch.RunAsync("keys", "generate", "vm1");
        Assert.True(generated.ExitCode == 0, Describe(generated, host));
        Assert.DoesNotContain("PRIVATE KEY", generated.Stdout + generated.Stderr, StringComparison.Ordinal);

        var connect = await latch.RunAsync(["connect", "vm1", "--sync-method", "agent", "--", .. RigLatch.SshOptions, "echo", "via-agent", "$(id -un)"]);
        if (connect.ExitCode != 0)
        {
            var refresh = await Latchd.RunAsync(vm, ["keys", "refresh"], cancellationToken: ct);
            var listed = await Latchd.RunAsync(vm, ["keys", "list"], cancellationToken: ct);
            Assert.Fail($"{Describe(connect, host)}\n--- latchd keys refresh (exit {refresh.ExitCode})\n{refresh.Stdout}{refresh.Stderr}\n--- latchd keys list\n{listed.Stdout}{listed.Stderr}");
        }

        Assert.Contains($"via-agent {User}", connect.Stdout, StringComparison.Ordinal);
        Assert.Equal(1, await latch.RunCommandCountAsync());
        var record = Assert.Single(latch.AuditRecords());
        Assert.Equal("agent", record.GetProperty("method").GetString());
        Assert.True(record.GetProperty("already_present").GetBoolean()); // latchd put it there; latch wrote nothing
        var list = await Latchd.RunAsync(vm, ["keys", "list"], cancellationToken: ct);
        Assert.Contains("keyvault:latch-vm1-key", list.Stdout, StringComparison.Ordinal);

        // keys status reads latchd's list: the key is latchd's
        var status = await latch.RunAsync("keys", "status", "vm1", "--sync-method", "run-command", "--json");
        Assert.True(status.ExitCode == 0, Describe(status, host));
        using var json = JsonDocument.Parse(status.Stdout);
        Assert.True(json.RootElement.GetProperty("agent").GetBoolean());
        Assert.True(json.RootElement.GetProperty("latch_key_present").GetBoolean(), status.Stdout);
        var key = Assert.Single(json.RootElement.GetProperty("keys").EnumerateArray());
        Assert.True(key.GetProperty("managed").GetBoolean());
    }
}
