using System.Text;
using Latch.Rig;

namespace Latch.VmTests.Guard;

/// <summary>A rig VM with latchd installed and the keys a guard test needs: the user's own, a managed one and a hostile one.</summary>
internal sealed record GuardVm(AzureHost Host, Vm Vm, VmUser User, SshKey Own, SshKey Managed, SshKey Hostile)
{
    public const string Latchd = LatchdBinary.VmPath;

    public static async Task<GuardVm> StartAsync(AzureHost host, CancellationToken cancellationToken)
    {
        var keys = Path.Combine(host.Directory, "keys");
        var own = await SshKey.CreateAsync(keys, "own", cancellationToken);
        var managed = await SshKey.CreateAsync(keys, "managed", cancellationToken);
        var hostile = await SshKey.CreateAsync(keys, "hostile", cancellationToken);
        var vm = await host.AddVmAsync("vm1", new VmProfile { AdminUsername = "alice" }, cancellationToken);
        await LatchdBinary.InstallAsync(vm, cancellationToken);
        var user = await vm.AddUserAsync("alice", [own.PublicKey], cancellationToken);
        return new GuardVm(host, vm, user, own, managed, hostile);
    }

    /// <summary>Runs latchd in the VM and fails the test with its output when it exits non-zero.</summary>
    public async Task<CommandResult> LatchdAsync(params string[] args)
    {
        var result = await Vm.ExecAsync([Latchd, .. args], timeout: TimeSpan.FromMinutes(3), cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(result.Succeeded, $"latchd {string.Join(' ', args)} exited {result.ExitCode}:\n{result.Stdout}\n{result.Stderr}");
        return result;
    }

    public Task<CommandResult> SshAsync(SshKey key) => Vm.SshAsync(User.Name, key.PrivateKeyPath, "id -un", cancellationToken: TestContext.Current.CancellationToken);

    /// <summary>A bounded shell loop inside the VM that rewrites authorized_keys to one other key every 10 ms (as root, truncating in place).</summary>
    public TrackedProcess StartHostileLoop(int rewrites) =>
        Vm.StartProcess("hostile loop", ["/bin/sh", "-c", "i=0; while [ $i -lt \"$3\" ]; do printf '%s\\n' \"$1\" > \"$2\"; i=$((i+1)); sleep 0.01; done", "hostile", Hostile.PublicKey, User.AuthorizedKeysPath, rewrites.ToString(System.Globalization.CultureInfo.InvariantCulture)]);

    /// <summary>POST /vms/vm1/hostile-agent on the emulator's control API.</summary>
    public async Task StartEmulatorHostileAgentAsync(int intervalMs, int maxRewrites)
    {
        using var http = Host.CreateHttpClient();
        var body = $"{{\"intervalMs\":{intervalMs},\"key\":\"{Hostile.PublicKey}\",\"maxRewrites\":{maxRewrites}}}";
        using var response = await http.PostAsync(new Uri(EmulatorProcess.ControlUri, $"vms/{Vm.Name}/hostile-agent"),
            new StringContent(body, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"hostile agent: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)}");
    }

    public async Task StopEmulatorHostileAgentAsync()
    {
        using var http = Host.CreateHttpClient();
        using var response = await http.DeleteAsync(new Uri(EmulatorProcess.ControlUri, $"vms/{Vm.Name}/hostile-agent"), TestContext.Current.CancellationToken);
    }

    /// <summary>Polls (bounded) until authorized_keys satisfies <paramref name="condition"/>; returns its content.</summary>
    public async Task<string> AuthorizedKeysEventuallyAsync(Func<string, bool> condition, string what, TimeSpan? deadline = null)
    {
        using var timeout = new CancellationTokenSource(deadline ?? TimeSpan.FromSeconds(30));
        var content = "";
        while (!timeout.IsCancellationRequested)
        {
            content = File.Exists(Vm.Root + User.AuthorizedKeysPath) ? await File.ReadAllTextAsync(Vm.Root + User.AuthorizedKeysPath, TestContext.Current.CancellationToken) : "";
            if (condition(content))
            {
                return content;
            }

            await Task.Delay(5, TestContext.Current.CancellationToken);
        }

        Assert.Fail($"{what} did not happen within the deadline; authorized_keys:\n{content}");
        return content;
    }
}
