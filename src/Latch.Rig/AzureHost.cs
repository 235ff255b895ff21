using System.Security.Cryptography;

namespace Latch.Rig;

/// <summary>
/// The test rig: one "azure host" network namespace (lt-az-ID) holding the WireServer (168.63.129.16), IMDS
/// (169.254.169.254) and the emulator's other services (169.254.128.1) on its loopback, with any number of
/// <see cref="Vm"/>s linked to it by veth pairs (169.254.N.0/30). The test process stays in the root
/// namespace: it reaches the azure host with <see cref="CreateHttpClient"/> (sockets opened inside the
/// namespace) and runs clients there with <see cref="RunAsync"/> (ip netns exec). Nothing is routed to or
/// from the root namespace. Dispose tears everything down, also after a failed test; a killed test run is
/// cleaned by the next one (<see cref="Janitor"/>).
/// </summary>
internal sealed class AzureHost : IAsyncDisposable
{
    public const string WireServerAddress = "168.63.129.16";
    public const string ImdsAddress = "169.254.169.254";
    /// <summary>Where the emulator's ARM, Key Vault and control listeners live inside the azure host.</summary>
    public const string ServicesAddress = "169.254.128.1";

    /// <summary>The subscription and tenant of the scenario the rig writes.</summary>
    public const string SubscriptionId = "5e1a7c00-0000-4000-8000-00000000a2b1";
    public const string TenantId = "5e1a7c00-0000-4000-8000-00000000e7a1";
    public const string ResourceGroup = "latch-rg";

    /// <summary>The operator service principal in the rig's scenario (client credentials at the emulator's Entra endpoint).</summary>
    public const string OperatorClientId = "5e1a7c00-0000-4000-8000-0000000c11e7";
    private const int MaxVms = 127;

    private readonly string _lowerDir;
    private readonly List<Vm> _vms = [];
    private readonly Lock _gate = new();
    private int _lastIndex;
    private int _disposed;

    private AzureHost(string id, string lowerDir)
    {
        Id = id;
        _lowerDir = lowerDir;
        Namespace = "lt-az-" + id;
        Directory = Path.Combine(Path.GetTempPath(), "lt-" + id);
    }

    /// <summary>Six hex digits naming everything this host made: lt-az-ID, lt-vmN-ID, /tmp/lt-ID, veths ltIDhN/ltIDvN.</summary>
    public string Id { get; }

    public string Namespace { get; }

    public string Directory { get; }

    public IReadOnlyList<Vm> Vms
    {
        get
        {
            lock (_gate)
            {
                return [.. _vms];
            }
        }
    }

    public EmulatorProcess? Emulator { get; private set; }

    /// <summary>The operator's client secret, new for every host (written only to the scenario file in <see cref="Directory"/>).</summary>
    public string OperatorClientSecret { get; } = RandomNumberGenerator.GetHexString(32, lowercase: true);

    /// <summary>Builds the rootfs cache if needed, sweeps what dead runs left, and creates the azure-host namespace.</summary>
    public static Task<AzureHost> StartAsync(CancellationToken cancellationToken = default) => StartAsync(null, cancellationToken);

    /// <summary>As <see cref="StartAsync(CancellationToken)"/>; <paramref name="rootFsProgress"/> gets the rootfs build's progress lines (first run only).</summary>
    public static async Task<AzureHost> StartAsync(Action<string>? rootFsProgress, CancellationToken cancellationToken = default)
    {
        await Janitor.SweepOnceAsync(cancellationToken);
        var lower = await RootFs.EnsureAsync(rootFsProgress, cancellationToken);
        var host = new AzureHost(RandomNumberGenerator.GetHexString(6, lowercase: true), lower);
        try
        {
            Janitor.WriteOwner(host.Id, host.Directory);
            System.IO.Directory.CreateDirectory(host.Directory);
            await Ip(["netns", "add", host.Namespace]);
            await Ip(["-n", host.Namespace, "link", "set", "lo", "up"]);
            foreach (var address in new[] { WireServerAddress, ImdsAddress, ServicesAddress })
            {
                await Ip(["-n", host.Namespace, "addr", "add", address + "/32", "dev", "lo"]);
            }

            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }

        Task Ip(IReadOnlyList<string> args) => Command.CheckAsync(["ip", .. args], cancellationToken: cancellationToken);
    }

    /// <summary>Boots a VM: overlay rootfs, namespace and veth, /proc, /sys, /dev, and sshd accepting on port 22.</summary>
    public async Task<Vm> AddVmAsync(string name, VmProfile? profile = null, CancellationToken cancellationToken = default)
    {
        var index = Interlocked.Increment(ref _lastIndex);
        if (index > MaxVms)
        {
            throw new RigException($"an AzureHost holds at most {MaxVms} VMs (one 169.254.N.0/30 each)");
        }

        var vm = new Vm(this, name, index, profile ?? new VmProfile());
        lock (_gate)
        {
            _vms.Add(vm);
        }

        try
        {
            await vm.BootAsync(_lowerDir, cancellationToken);
            return vm;
        }
        catch
        {
            lock (_gate)
            {
                _vms.Remove(vm);
            }

            await vm.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Starts latch-emulator inside the azure host (IMDS 169.254.169.254:80, WireServer 168.63.129.16:80, ARM,
    /// Key Vault and control on <see cref="ServicesAddress"/>) with a scenario that describes the VMs added so far,
    /// or with <paramref name="scenarioPath"/>; <paramref name="extraArguments"/> are appended (e.g. --fault SPEC,
    /// --write-media VM). Returns when it printed "ready".
    /// </summary>
    public async Task<EmulatorProcess> StartEmulatorAsync(
        string? scenarioPath = null, IReadOnlyList<string>? extraArguments = null, CancellationToken cancellationToken = default)
    {
        if (Emulator is not null)
        {
            throw new RigException("the emulator already runs in this AzureHost");
        }

        var stateDir = Path.Combine(Directory, "emulator");
        System.IO.Directory.CreateDirectory(stateDir);
        if (scenarioPath is null)
        {
            scenarioPath = Path.Combine(stateDir, "scenario.json");
            await File.WriteAllBytesAsync(scenarioPath, ScenarioWriter.Write(Vms, OperatorClientSecret), cancellationToken);
        }

        Emulator = await EmulatorProcess.StartAsync(this, scenarioPath, stateDir, extraArguments ?? [], cancellationToken);
        return Emulator;
    }

    /// <summary>Runs a program inside the azure-host namespace (e.g. an ssh client, curl against the emulator).</summary>
    public Task<CommandResult> RunAsync(IReadOnlyList<string> argv, string? stdin = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        Command.RunAsync(["ip", "netns", "exec", Namespace, .. argv], stdin, Command.VmEnvironment, timeout, cancellationToken);

    /// <summary>An HttpClient whose connections start in the azure host (it reaches the emulator and every VM).</summary>
    public HttpClient CreateHttpClient(TimeSpan? timeout = null) => NetNs.CreateHttpClient(Namespace, timeout);

    /// <summary>
    /// A handler whose connections start in the azure host and whose HTTPS servers must chain to the emulator's CA
    /// (ARM, Entra, Key Vault); for Latch.Azure clients (their <c>Handler</c> option) or an HttpClient.
    /// </summary>
    public SocketsHttpHandler CreateTrustingHandler() =>
        NetNs.CreateHandler(Namespace, (Emulator ?? throw new RigException("start the emulator first: its CA signs the HTTPS listeners")).CaCertificatePath);

    public async ValueTask DisposeAsync()
    {
        if (!Teardown.First(ref _disposed))
        {
            return;
        }

        var teardown = new Teardown($"azure host {Id}");
        foreach (var vm in Vms.Reverse())
        {
            await teardown.StepAsync(async () => await vm.DisposeAsync());
        }

        if (Emulator is not null)
        {
            await teardown.StepAsync(async () => await Emulator.DisposeAsync());
        }

        await teardown.StepAsync(() => NetNs.DeleteAsync(Namespace));
        await teardown.RemoveDirectoryAsync(Directory);
        await teardown.StepAsync(() =>
        {
            Janitor.RemoveOwner(Id);
            return Task.CompletedTask;
        });
        teardown.ThrowIfFailed(" (the next run's janitor retries)");
    }
}
