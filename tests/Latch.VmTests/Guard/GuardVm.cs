using System.Text;
using Latch.Rig;

namespace Latch.VmTests.Guard;

/// <summary>
/// What every guard test starts from, set up once here: the rig's checks, an azure host, vm1 with latchd and latch-akc
/// installed, and user alice whose authorized_keys holds her own key. Keys: the user's own, a managed one (Latch's), a
/// hostile one (what a rewrite storm writes) and the platform's (what Azure's profile and ovf-env.xml give the admin,
/// alice). Disposing it tears the host and the VM down.
/// </summary>
internal sealed class GuardVm(AzureHost host, Vm vm, VmUser user, SshKey own, SshKey managed, SshKey hostile, SshKey platform) : IAsyncDisposable
{
    public const string Latchd = LatchdBinary.VmPath;

    public AzureHost Host { get; } = host;

    public Vm Vm { get; } = vm;

    public VmUser User { get; } = user;

    public SshKey Own { get; } = own;

    public SshKey Managed { get; } = managed;

    public SshKey Hostile { get; } = hostile;

    public SshKey Platform { get; } = platform;

    /// <summary>Starts the host and the VM; with <paramref name="emulator"/>, also the emulator with the rig's scenario.</summary>
    public static async Task<GuardVm> StartAsync(bool emulator = false)
    {
        RigRequires.All();
        var cancellationToken = TestContext.Current.CancellationToken;
        var host = await AzureHost.StartAsync(cancellationToken);
        try
        {
            var keys = Path.Combine(host.Directory, "keys");
            var own = await SshKey.CreateAsync(keys, "own", cancellationToken);
            var managed = await SshKey.CreateAsync(keys, "managed", cancellationToken);
            var hostile = await SshKey.CreateAsync(keys, "hostile", cancellationToken);
            var platform = await SshKey.CreateAsync(keys, "platform", cancellationToken);
            var vm = await host.AddVmAsync("vm1", new VmProfile { AdminUsername = "alice", PublicKeys = [platform.PublicKey] }, cancellationToken);
            await LatchdBinary.InstallAsync(vm, cancellationToken);
            var user = await vm.AddUserAsync("alice", [own.PublicKey], cancellationToken);
            if (emulator)
            {
                await host.StartEmulatorAsync(cancellationToken: cancellationToken);
            }

            return new GuardVm(host, vm, user, own, managed, hostile, platform);
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    public ValueTask DisposeAsync() => Host.DisposeAsync();

    /// <summary>Starts <c>latchd guard watch</c> (the file guard in the foreground) and waits until it is ready.</summary>
    public async Task<TrackedProcess> StartFileGuardAsync()
    {
        var watch = Vm.StartProcess("latchd guard watch", [Latchd, "guard", "watch"]);
        await watch.WaitForLineAsync(l => l.Contains("guard: ready", StringComparison.Ordinal), TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        return watch;
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
