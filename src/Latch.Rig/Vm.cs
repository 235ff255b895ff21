using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Latch.Rig.Interop;

namespace Latch.Rig;

/// <summary>A user the rig created in a VM.</summary>
internal sealed record VmUser(string Name, string Home)
{
    public string AuthorizedKeysPath => Home + "/.ssh/authorized_keys";
}

/// <summary>
/// One "Azure VM": an overlay of the cached rootfs (private upper layer), its own network namespace
/// lt-vmN-ID with eth0 = 169.254.N.2/30 (gateway .1 in the azure-host namespace), its own UTS namespace
/// (hostname = VM name), /proc, a /sys of its own
/// namespace, a private /dev (null, zero, full, random, urandom, tty, devpts), and a real sshd on port 22.
/// Made by <see cref="AzureHost.AddVmAsync"/>; disposing it (or its host) removes all of that.
/// </summary>
internal sealed class Vm : IAsyncDisposable
{
    private readonly AzureHost _host;
    private readonly List<TrackedProcess> _processes = [];
    private readonly Lock _gate = new();
    private int _disposed;

    internal Vm(AzureHost host, string name, int index, VmProfile profile)
    {
        _host = host;
        Name = name;
        Profile = profile;
        Index = index;
        Namespace = $"lt-vm{index}-{host.Id}";
        Directory = Path.Combine(host.Directory, "vm" + index.ToString(CultureInfo.InvariantCulture));
        Root = Path.Combine(Directory, "root");
        Address = $"169.254.{index}.2";
        GatewayAddress = $"169.254.{index}.1";
    }

    public string Name { get; }

    /// <summary>What Azure (the emulator) says about this VM.</summary>
    public VmProfile Profile { get; }

    /// <summary>The VM id the emulator serves (IMDS compute.vmId).</summary>
    public string VmId { get; } = Guid.NewGuid().ToString();

    public int Index { get; }

    /// <summary>The VM's network namespace (lt-vmN-ID).</summary>
    public string Namespace { get; }

    /// <summary>Host directory holding the overlay layers; the VM's / is <see cref="Root"/>.</summary>
    public string Directory { get; }

    /// <summary>The VM's root directory on the host (the overlay's merged view).</summary>
    public string Root { get; }

    /// <summary>The VM's eth0 address, 169.254.N.2; ssh and the emulator see the VM by it.</summary>
    public string Address { get; }

    /// <summary>The azure-host side of the VM's link, 169.254.N.1 (the VM's default gateway).</summary>
    public string GatewayAddress { get; }

    /// <summary>The VM's own UTS namespace (its hostname), bound to a file so every VM process can join it.</summary>
    public string UtsNamespacePath => Path.Combine(Directory, "uts");

    /// <summary>
    /// The argv prefix that runs a program inside this VM (what the emulator's run-command uses): the VM's
    /// network and UTS namespaces, then chroot. nsenter execs (no fork), so a started program's pid is its own.
    /// </summary>
    public IReadOnlyList<string> ExecPrefix => ["nsenter", "--net=" + NetNs.PathOf(Namespace), "--uts=" + UtsNamespacePath, "chroot", Root];

    public TrackedProcess? Sshd { get; private set; }

    /// <summary>Runs <paramref name="shellCommand"/> with /bin/sh -c inside the VM, as root.</summary>
    public Task<CommandResult> RunAsync(string shellCommand, string? stdin = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        ExecAsync(["/bin/sh", "-c", shellCommand], stdin, timeout, cancellationToken);

    /// <summary>Runs a program inside the VM, as root, with a clean environment.</summary>
    public Task<CommandResult> ExecAsync(IReadOnlyList<string> argv, string? stdin = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        Command.RunAsync([.. ExecPrefix, .. argv], stdin, Command.VmEnvironment, timeout, cancellationToken);

    /// <summary>Starts a long-running program inside the VM; it is stopped by pid when the VM is disposed.</summary>
    public TrackedProcess StartProcess(string name, IReadOnlyList<string> argv)
    {
        var process = TrackedProcess.Start($"{name} in {Name}", [.. ExecPrefix, .. argv], Command.VmEnvironment);
        lock (_gate)
        {
            _processes.Add(process);
        }

        return process;
    }

    /// <summary>A real ssh from the azure-host namespace to this VM: BatchMode, only the given key, no host-key checks.</summary>
    public Task<CommandResult> SshAsync(string user, string keyPath, string command, IReadOnlyList<string>? extraOptions = null, CancellationToken cancellationToken = default) =>
        _host.RunAsync(
            [
                "ssh", "-F", "/dev/null", "-i", keyPath,
                "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=15", "-o", "LogLevel=ERROR",
                .. extraOptions ?? [], $"{user}@{Address}", command,
            ],
            cancellationToken: cancellationToken);

    /// <summary>Reads a file as the VM sees it (symlinks resolve inside the VM, never to the host).</summary>
    public async Task<string> ReadFileAsync(string vmPath, CancellationToken cancellationToken = default) =>
        await TryReadFileAsync(vmPath, cancellationToken)
        ?? throw new RigException($"{Name}: {vmPath} does not exist or cannot be read");

    /// <summary>The file's contents as the VM sees it, or null when it does not exist.</summary>
    public async Task<string?> TryReadFileAsync(string vmPath, CancellationToken cancellationToken = default)
    {
        var result = await ExecAsync(["cat", "--", vmPath], cancellationToken: cancellationToken);
        return result.Succeeded ? result.Stdout : null;
    }

    /// <summary>Writes (replaces) a file inside the VM, creating its parent directories, with the given mode and owner.</summary>
    public async Task WriteFileAsync(string vmPath, string content, string mode = "0644", string owner = "root:root", CancellationToken cancellationToken = default)
    {
        var result = await ExecAsync(
            ["/bin/sh", "-c", "mkdir -p \"$(dirname \"$1\")\" && cat > \"$1\" && chown \"$3\" \"$1\" && chmod \"$2\" \"$1\"", "sh", vmPath, mode, owner],
            content,
            cancellationToken: cancellationToken);
        if (!result.Succeeded)
        {
            throw new RigException($"{Name}: cannot write {vmPath}: {result.Stderr.Trim()}");
        }
    }

    /// <summary>Creates a user with a home directory and, when given, an authorized_keys file (0600, in .ssh 0700).</summary>
    public async Task<VmUser> AddUserAsync(string name, IReadOnlyList<string>? authorizedKeys = null, CancellationToken cancellationToken = default)
    {
        var created = await ExecAsync(["useradd", "--create-home", "--shell", "/bin/bash", name], cancellationToken: cancellationToken);
        if (!created.Succeeded)
        {
            throw new RigException($"{Name}: useradd {name} failed: {created.Stderr.Trim()}");
        }

        var user = new VmUser(name, "/home/" + name);
        if (authorizedKeys is not null)
        {
            var keys = string.Concat(authorizedKeys.Select(k => k.TrimEnd('\n') + "\n"));
            var written = await ExecAsync(
                ["/bin/sh", "-c", "install -d -m 0700 -o \"$1\" -g \"$1\" \"$2/.ssh\" && cat > \"$2/.ssh/authorized_keys\" && chown \"$1:$1\" \"$2/.ssh/authorized_keys\" && chmod 0600 \"$2/.ssh/authorized_keys\"", "sh", name, user.Home],
                keys,
                cancellationToken: cancellationToken);
            if (!written.Succeeded)
            {
                throw new RigException($"{Name}: cannot write {user.AuthorizedKeysPath}: {written.Stderr.Trim()}");
            }
        }

        return user;
    }

    internal async Task BootAsync(string lowerDir, CancellationToken cancellationToken)
    {
        var upper = Path.Combine(Directory, "upper");
        var work = Path.Combine(Directory, "work");
        System.IO.Directory.CreateDirectory(upper);
        System.IO.Directory.CreateDirectory(work);
        System.IO.Directory.CreateDirectory(Root);
        await Command.CheckAsync(["mount", "-t", "overlay", "overlay", "-o", $"lowerdir={lowerDir},upperdir={upper},workdir={work}", Root], cancellationToken: cancellationToken);

        await ConnectNetworkAsync(cancellationToken);
        // its own hostname: whatever sets the hostname inside (provisioning agents do) must not rename the host
        await File.WriteAllBytesAsync(UtsNamespacePath, [], cancellationToken);
        await Command.CheckAsync(["unshare", "--uts=" + UtsNamespacePath, "hostname", Name], cancellationToken: cancellationToken);
        await File.WriteAllTextAsync(Root + "/etc/hostname", Name + "\n", cancellationToken);
        await File.AppendAllTextAsync(Root + "/etc/hosts", $"{Address}\t{Name}\n", cancellationToken);

        await Command.CheckAsync(["mount", "-t", "proc", "proc", Root + "/proc"], cancellationToken: cancellationToken);
        // sysfs shows the network devices of the namespace that mounts it: mount it from inside the VM's
        await Command.CheckAsync(["nsenter", "--net=" + NetNs.PathOf(Namespace), "mount", "-t", "sysfs", "sysfs", Root + "/sys"], cancellationToken: cancellationToken);
        await MakeDevAsync(cancellationToken);
        System.IO.Directory.CreateDirectory(Root + "/run/sshd");

        Sshd = StartProcess("sshd", ["/usr/sbin/sshd", "-D", "-e", "-p", "22"]);
        await WaitForSshdAsync(cancellationToken);
    }

    private async Task ConnectNetworkAsync(CancellationToken cancellationToken)
    {
        var hostLink = $"lt{_host.Id}h{Index}";
        var vmLink = $"lt{_host.Id}v{Index}";
        var az = _host.Namespace;
        await Ip(["netns", "add", Namespace]);
        await Ip(["-n", Namespace, "link", "set", "lo", "up"]);
        await Ip(["link", "add", hostLink, "type", "veth", "peer", "name", vmLink]);
        await Ip(["link", "set", hostLink, "netns", az]);
        await Ip(["link", "set", vmLink, "netns", Namespace]);
        await Ip(["-n", Namespace, "link", "set", vmLink, "name", "eth0"]);
        await Ip(["-n", Namespace, "addr", "add", Address + "/30", "dev", "eth0"]);
        await Ip(["-n", Namespace, "link", "set", "eth0", "up"]);
        await Ip(["-n", az, "addr", "add", GatewayAddress + "/30", "dev", hostLink]);
        await Ip(["-n", az, "link", "set", hostLink, "up"]);
        // exactly as on Azure: waagent looks for the WireServer's host route in the main table
        await Ip(["-n", Namespace, "route", "add", "default", "via", GatewayAddress]);
        await Ip(["-n", Namespace, "route", "add", AzureHost.WireServerAddress + "/32", "via", GatewayAddress]);
        await Ip(["-n", Namespace, "route", "add", AzureHost.ImdsAddress + "/32", "via", GatewayAddress]);

        Task Ip(IReadOnlyList<string> args) => Command.CheckAsync(["ip", .. args], cancellationToken: cancellationToken);
    }

    private async Task MakeDevAsync(CancellationToken cancellationToken)
    {
        var dev = Root + "/dev";
        await Command.CheckAsync(["mount", "-t", "tmpfs", "-o", "mode=0755,nosuid,size=1m", "tmpfs", dev], cancellationToken: cancellationToken);
        (string Name, uint Major, uint Minor)[] nodes = [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)];
        foreach (var (name, major, minor) in nodes)
        {
            var path = Path.Combine(dev, name);
            if (Libc.Mknod(path, Libc.S_IFCHR | 0x1b6, Libc.MakeDev(major, minor)) != 0)
            {
                throw new RigException($"mknod {path} failed: {Libc.LastError()}");
            }

            File.SetUnixFileMode(path, (UnixFileMode)0x1b6);
        }

        System.IO.Directory.CreateDirectory(dev + "/pts");
        System.IO.Directory.CreateDirectory(dev + "/shm");
        File.SetUnixFileMode(dev + "/shm", (UnixFileMode)0x3ff);
        await Command.CheckAsync(["mount", "-t", "devpts", "-o", "newinstance,ptmxmode=0666,mode=0620,gid=5", "devpts", dev + "/pts"], cancellationToken: cancellationToken);
        File.CreateSymbolicLink(dev + "/ptmx", "pts/ptmx");
        File.CreateSymbolicLink(dev + "/fd", "/proc/self/fd");
        File.CreateSymbolicLink(dev + "/stdin", "/proc/self/fd/0");
        File.CreateSymbolicLink(dev + "/stdout", "/proc/self/fd/1");
        File.CreateSymbolicLink(dev + "/stderr", "/proc/self/fd/2");
    }

    private async Task WaitForSshdAsync(CancellationToken cancellationToken)
    {
        var endPoint = new IPEndPoint(IPAddress.Parse(Address), 22);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        while (true)
        {
            if (Sshd!.HasExited)
            {
                throw new RigException($"{Name}: sshd exited during boot; its output:\n{Sshd.Log}");
            }

            try
            {
                using var socket = await NetNs.ConnectAsync(_host.Namespace, endPoint, deadline.Token);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(25, deadline.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new RigException($"{Name}: sshd did not accept on {endPoint} within 30 s; its output:\n{Sshd.Log}");
            }
        }
    }

    /// <summary>Stops the VM's processes by pid, removes its namespace (and veth), unmounts and deletes its directory.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!Teardown.First(ref _disposed))
        {
            return;
        }

        var teardown = new Teardown(Name);
        List<TrackedProcess> processes;
        lock (_gate)
        {
            processes = [.. _processes];
        }

        foreach (var process in processes.AsEnumerable().Reverse())
        {
            await teardown.StepAsync(async () => await process.DisposeAsync());
        }

        await teardown.StepAsync(() => NetNs.DeleteAsync(Namespace));
        await teardown.RemoveDirectoryAsync(Directory);
        teardown.ThrowIfFailed();
    }
}
