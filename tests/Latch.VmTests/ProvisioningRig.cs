using System.Net.Http.Json;
using System.Text.Json;
using Latch.Testing;
using Latch.Rig;

namespace Latch.VmTests;

/// <summary>One azure host, one VM, the emulator, latchd installed in the VM and an admin key: what each provisioning test starts from.</summary>
internal sealed class ProvisioningRig : IAsyncDisposable
{
    private ProvisioningRig(AzureHost host, Vm vm, EmulatorProcess emulator, SshKey key)
    {
        Host = host;
        Vm = vm;
        Emulator = emulator;
        Key = key;
    }

    public AzureHost Host { get; }

    public Vm Vm { get; }

    public EmulatorProcess Emulator { get; }

    public SshKey Key { get; }

    public const string User = "azureuser";

    public static async Task<ProvisioningRig> StartAsync(Func<SshKey, VmProfile>? profile = null, Func<Vm, Task>? beforeEmulator = null, CancellationToken cancellationToken = default)
    {
        RigRequires.All();
        Requires.Tool("dotnet");
        // publish (or take from the cache) before the clock of any VM starts
        await Latchd.EnsurePublishedAsync(cancellationToken);
        var host = await AzureHost.StartAsync(cancellationToken);
        try
        {
            var key = await SshKey.CreateAsync(Path.Combine(host.Directory, "keys"), "admin", cancellationToken);
            var vm = await host.AddVmAsync("vm1", profile?.Invoke(key) ?? new VmProfile { AdminUsername = User, PublicKeys = [key.PublicKey] }, cancellationToken);
            if (beforeEmulator is not null)
            {
                await beforeEmulator(vm);
            }

            var emulator = await host.StartEmulatorAsync(cancellationToken: cancellationToken);
            await Latchd.InstallAsync(vm, cancellationToken);
            return new ProvisioningRig(host, vm, emulator, key);
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    public Task<CommandResult> ProvisionAsync(params string[] extra) =>
        Latchd.RunAsync(Vm, ["provision", .. extra], cancellationToken: TestContext.Current.CancellationToken);

    /// <summary>Provisions, failing the test with latchd's and the emulator's output unless that succeeded.</summary>
    public async Task ProvisionSucceedsAsync()
    {
        var result = await ProvisionAsync();
        Assert.True(result.Succeeded, Explain(result));
    }

    /// <summary>The health reports the VM posted, as (state, subStatus, description).</summary>
    public async Task<IReadOnlyList<(string? State, string? SubStatus, string? Description)>> ReportsAsync()
    {
        var body = await Emulator.GetHealthReportsAsync(Vm.Name, TestContext.Current.CancellationToken);
        return [.. EmulatorProcess.Reports(body).Select(r => (Text(r, "state"), Text(r, "subStatus"), Text(r, "description")))];

        static string? Text(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
    }

    /// <summary>"METHOD path -> status" of every request the emulator's group (imds, wireserver) saw, oldest first.</summary>
    public async Task<IReadOnlyList<string>> RequestsAsync(string group)
    {
        using var http = Host.CreateHttpClient();
        var body = await http.GetStringAsync(new Uri(EmulatorProcess.ControlUri, "requests?group=" + group), TestContext.Current.CancellationToken);
        using var json = JsonDocument.Parse(body);
        return [.. json.RootElement.EnumerateArray().Select(r => $"{r.GetProperty("method").GetString()} {r.GetProperty("path").GetString()} -> {r.GetProperty("status").GetInt32()}")];
    }

    /// <summary>POST /faults on the emulator's control API, e.g. "wireserver:status=503,count=3".</summary>
    public async Task AddFaultAsync(string spec)
    {
        using var http = Host.CreateHttpClient();
        using var response = await http.PostAsJsonAsync(new Uri(EmulatorProcess.ControlUri, "faults"), new Dictionary<string, string> { ["spec"] = spec }, TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"fault {spec}: {await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)}");
    }

    /// <summary>POST /vms/vm1/media: the emulator writes ovf-env.xml (and an ISO of it); returns the host paths.</summary>
    public async Task<(string OvfEnv, string? Iso)> WriteMediaAsync()
    {
        using var http = Host.CreateHttpClient();
        using var response = await http.PostAsync(new Uri(EmulatorProcess.ControlUri, $"vms/{Vm.Name}/media"), null, TestContext.Current.CancellationToken);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, body);
        using var json = JsonDocument.Parse(body);
        var iso = json.RootElement.TryGetProperty("isoPath", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString() : null;
        return (json.RootElement.GetProperty("ovfEnvPath").GetString()!, iso);
    }

    /// <summary>ssh as the provisioned user with its key, retried briefly while sshd re-executes after its reload.</summary>
    public async Task<CommandResult> SshAsync(string command, IReadOnlyList<string>? options = null)
    {
        CommandResult result = null!;
        for (var attempt = 0; attempt < 20; attempt++)
        {
            result = await Vm.SshAsync(User, Key.PrivateKeyPath, command, options, TestContext.Current.CancellationToken);
            if (result.ExitCode != 255 || result.Stderr.Contains("Permission denied", StringComparison.Ordinal))
            {
                return result;
            }

            await Task.Delay(250, TestContext.Current.CancellationToken);
        }

        return result;
    }

    public string Explain(CommandResult result) =>
        $"exit {result.ExitCode}\n--- latchd stderr ---\n{result.Stderr}\n--- stdout ---\n{result.Stdout}\n--- emulator ---\n{Emulator.Process.Log}";

    public async ValueTask DisposeAsync() => await Host.DisposeAsync();
}
