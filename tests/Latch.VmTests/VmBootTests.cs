using Latch.Rig;

namespace Latch.VmTests;

public sealed class VmBootTests
{
    [Fact]
    public async Task Vm_accepts_ssh_with_an_authorized_key_and_refuses_another_key()
    {
        RigRequires.All();
        var ct = TestContext.Current.CancellationToken;
        await using var host = await AzureHost.StartAsync(ct);
        var vm = await host.AddVmAsync("vm1", cancellationToken: ct);
        var keys = Path.Combine(host.Directory, "keys");
        var good = await SshKey.CreateAsync(keys, "good", ct);
        var other = await SshKey.CreateAsync(keys, "other", ct);
        await vm.AddUserAsync("alice", [good.PublicKey], ct);

        var accepted = await vm.SshAsync("alice", good.PrivateKeyPath, "id -un && cat /etc/debian_version && hostname", cancellationToken: ct);
        var refused = await vm.SshAsync("alice", other.PrivateKeyPath, "true", cancellationToken: ct);

        Assert.True(accepted.Succeeded, $"ssh with the authorized key failed: {accepted.Stderr}\nsshd:\n{vm.Sshd!.Log}");
        Assert.StartsWith("alice\n12.", accepted.Stdout, StringComparison.Ordinal);
        Assert.EndsWith("\nvm1\n", accepted.Stdout, StringComparison.Ordinal);
        Assert.NotEqual("vm1", Environment.MachineName);
        Assert.Equal(255, refused.ExitCode);
        Assert.Contains("Permission denied", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("Accepted publickey for alice", vm.Sshd!.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Vm_files_written_through_the_rig_are_what_the_vm_reads()
    {
        RigRequires.All();
        var ct = TestContext.Current.CancellationToken;
        await using var host = await AzureHost.StartAsync(ct);
        var vm = await host.AddVmAsync("vm1", cancellationToken: ct);
        await vm.AddUserAsync("bob", cancellationToken: ct);

        await vm.WriteFileAsync("/home/bob/notes/hello.txt", "hello from the rig\n", "0640", "bob:bob", ct);
        var seen = await vm.RunAsync("stat -c '%U:%G %a' /home/bob/notes/hello.txt && cat /home/bob/notes/hello.txt", cancellationToken: ct);
        var missing = await vm.TryReadFileAsync("/home/bob/absent", ct);

        Assert.True(seen.Succeeded, seen.Stderr);
        Assert.Equal("bob:bob 640\nhello from the rig\n", seen.Stdout);
        Assert.Equal("hello from the rig\n", await vm.ReadFileAsync("/home/bob/notes/hello.txt", ct));
        Assert.Null(missing);
        // the cached rootfs under the overlay stays untouched
        Assert.False(File.Exists(Path.Combine(await RootFs.EnsureAsync(ct), "home/bob/notes/hello.txt")));
    }

    [Fact]
    public async Task Interactive_ssh_gets_a_pseudo_terminal_from_the_vms_own_devpts()
    {
        RigRequires.All();
        var ct = TestContext.Current.CancellationToken;
        await using var host = await AzureHost.StartAsync(ct);
        var vm = await host.AddVmAsync("vm1", cancellationToken: ct);
        var key = await SshKey.CreateAsync(Path.Combine(host.Directory, "keys"), "k", ct);
        await vm.AddUserAsync("carol", [key.PublicKey], ct);

        var session = await vm.SshAsync("carol", key.PrivateKeyPath, "tty", ["-tt"], ct);

        Assert.True(session.Succeeded, session.Stderr);
        Assert.StartsWith("/dev/pts/", session.Stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(vm.Root, "dev/pts/ptmx")));
    }
}
