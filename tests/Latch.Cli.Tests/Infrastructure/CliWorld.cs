using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using Latch.Emulator;

namespace Latch.Cli.Tests.Infrastructure;

/// <summary>An emulated VM whose run-command scripts run on this machine with a private /etc/passwd naming a temp home.</summary>
internal sealed record EmulatedVm(string Name, string User, int Uid, string Home, string PasswdPath)
{
    public string AuthorizedKeys => Path.Combine(Home, ".ssh", "authorized_keys");

    public string ReadAuthorizedKeys() => File.Exists(AuthorizedKeys) ? File.ReadAllText(AuthorizedKeys) : "";
}

/// <summary>
/// A test world: latch-emulator in-process on 127.0.0.1:0 with N VMs, each VM's run-command executed on this
/// machine inside <c>unshare --mount</c> with its own /etc/passwd (<see cref="PrivateEtc"/>; so <c>getent passwd</c> gives a
/// per-VM user and temp home, and the script's setpriv drops to that uid); an operator HOME with a real ed25519 key;
/// and the latch binary run as a real process. Needs root (mount namespaces).
/// </summary>
internal sealed class CliWorld : IAsyncDisposable
{
    public const string ClientId = "6b3c4d5e-6f70-4a81-92b3-c4d5e6f7a8b9";
    public const string ClientSecret = "cli-test-operator-secret";
    public const string OperatorPrincipal = "9f3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d";
    public const string Subscription = "5e1c0a7e-0000-4000-8000-00000000d3e0";

    private CliWorld(string root, EmulatorHost host, IReadOnlyList<EmulatedVm> vms, string home)
    {
        Root = root;
        Host = host;
        Vms = vms;
        Home = home;
    }

    public string Root { get; }
    public EmulatorHost Host { get; }
    public IReadOnlyList<EmulatedVm> Vms { get; }
    public string Home { get; }
    public string LocalPublicKey => File.ReadAllText(Path.Combine(Home, ".ssh", "id_ed25519.pub")).Trim();
    public string AuditLog => Path.Combine(Home, ".local", "state", "latch", "audit.jsonl");

    /// <summary>The operator's audit log, one JSON record per line.</summary>
    public List<System.Text.Json.JsonElement> AuditRecords() =>
        [.. File.ReadAllLines(AuditLog).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement)];

    public EmulatedVm Vm(string name) => Vms.Single(v => v.Name == name);

    /// <summary>The current value of a Key Vault secret, or null.</summary>
    public string? Secret(string name) =>
        Host.KeyVaultStore!.TryGet("kv-test", name, null, out var secret, out _) && secret.Enabled ? secret.Value : null;

    public static async Task<CliWorld> StartAsync(int vmCount, bool withVault = true, TimeSpan? runCommandLatency = null, string prefix = "vm", Func<int, string>? seededKey = null, string user = "azureuser")
    {
        Requires.Root();
        Requires.Tool("unshare", "util-linux");
        Requires.Tool("ssh-keygen", "openssh-client");
        var root = Directory.CreateTempSubdirectory("latch-cli-test-").FullName;
        // the VMs' users (other uids) must be able to reach their homes below this directory
        File.SetUnixFileMode(root, (UnixFileMode)Convert.ToInt32("755", 8));
        var vms = new List<EmulatedVm>();
        var definitions = new List<VmDefinition>();
        for (var i = 0; i < vmCount; i++)
        {
            var name = $"{prefix}{i:D2}";
            var vmRoot = Path.Combine(root, name);
            var home = Path.Combine(vmRoot, "home", user);
            Directory.CreateDirectory(home);
            var uid = user == "root" ? 0 : 42000 + i;
            Chown(home, uid);
            // sshd's privilege-separation user must exist in the VM's passwd too; root's home is inside the VM as well,
            // so nothing a script does as root can reach this machine's /root
            var system = string.Concat(File.ReadAllLines("/etc/passwd").Where(l => l.StartsWith("sshd:", StringComparison.Ordinal) || l.StartsWith("nobody:", StringComparison.Ordinal)).Select(l => l + "\n"));
            var passwd = PrivateEtc.Create(Path.Combine(vmRoot, "etc"), user == "root"
                ? $"root:x:0:0:root:{home}:/bin/bash\n{system}"
                : $"root:x:0:0:root:{Path.Combine(vmRoot, "root")}:/bin/bash\n{user}:x:{uid}:{uid}::{home}:/bin/bash\n{system}");
            vms.Add(new EmulatedVm(name, user, uid, home, passwd));
            if (seededKey is not null)
            {
                // the VM already trusts the key Key Vault holds for it, as after an earlier 'latch keys generate'
                var ssh = Path.Combine(home, ".ssh");
                Directory.CreateDirectory(ssh);
                await File.WriteAllTextAsync(Path.Combine(ssh, "authorized_keys"), seededKey(i) + "\n");
                Chown(ssh, uid);
                Chown(Path.Combine(ssh, "authorized_keys"), uid);
                File.SetUnixFileMode(ssh, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                File.SetUnixFileMode(Path.Combine(ssh, "authorized_keys"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            definitions.Add(new VmDefinition
            {
                Name = name,
                ResourceGroup = i % 2 == 0 ? "rg-even" : "rg-odd",
                AdminUsername = user,
                PrivateIpAddress = "127.0.0.1",
                AuthorizedKeysHostPath = Path.Combine(home, ".ssh", "authorized_keys"),
                Exec = PrivateEtc.Prefix(Path.GetDirectoryName(passwd)!),
            });
        }

        var scenario = new Scenario
        {
            SubscriptionId = Subscription,
            Vms = definitions,
            Vaults = withVault
                ? [new VaultDefinition
                {
                    Name = "kv-test",
                    ResourceGroup = "rg-even",
                    AllowedPrincipals = [OperatorPrincipal],
                    Secrets = seededKey is null ? [] : [.. Enumerable.Range(0, vmCount).Select(i => new SecretDefinition { Name = $"latch-{prefix}{i:D2}-key", Value = seededKey(i) })],
                }]
                : [],
            ServicePrincipals = [new ServicePrincipalDefinition { ClientId = ClientId, ClientSecret = ClientSecret, PrincipalId = OperatorPrincipal }],
        };
        var host = await EmulatorHost.StartAsync(new EmulatorOptions
        {
            Scenario = scenario,
            StateDirectory = Path.Combine(root, "emulator"),
            RunCommandLatency = runCommandLatency ?? TimeSpan.Zero,
        });
        var operatorHome = Path.Combine(root, "operator");
        Directory.CreateDirectory(Path.Combine(operatorHome, ".ssh"));
        await RunToolAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "operator@cli-test", "-f", Path.Combine(operatorHome, ".ssh", "id_ed25519"));
        return new CliWorld(root, host, vms, operatorHome);
    }

    public Dictionary<string, string?> Environment() => new()
    {
        ["HOME"] = Home,
        ["LATCH_EMULATOR"] = Host.Control.ToString(),
        ["AZURE_CLIENT_ID"] = ClientId,
        ["AZURE_CLIENT_SECRET"] = ClientSecret,
    };

    public Task<CliResult> LatchAsync(params string[] arguments) => CliProcess.RunAsync(Environment(), arguments);

    public Task<CliResult> LatchAsync(IReadOnlyDictionary<string, string?> extraEnvironment, params string[] arguments)
    {
        var environment = Environment();
        foreach (var (k, v) in extraEnvironment)
        {
            environment[k] = v;
        }

        return CliProcess.RunAsync(environment, arguments);
    }

    /// <summary>Run-command POSTs the emulator has seen so far (from its request log).</summary>
    public async Task<int> RunCommandCountAsync()
    {
        using var http = new HttpClient();
        var requests = await http.GetFromJsonAsync<List<RequestEntry>>(new Uri(Host.Control, "/requests?group=arm"), TestContext.Current.CancellationToken);
        return requests!.Count(r => r.Method == "POST" && r.Path.Split('?')[0].EndsWith("/runCommand", StringComparison.Ordinal));
    }

    /// <summary>Adds an emulator fault, e.g. ("arm", "status=403", "/subscriptions/…/runCommand", 100).</summary>
    public async Task AddFaultAsync(string group, string kind, string pathPrefix, int count)
    {
        using var http = new HttpClient();
        using var response = await http.PostAsJsonAsync(new Uri(Host.Control, "/faults"), new { spec = $"{group}:{kind},path={pathPrefix},count={count}" }, TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    public async Task ClearFaultsAsync()
    {
        using var http = new HttpClient();
        using var response = await http.DeleteAsync(new Uri(Host.Control, "/faults"), TestContext.Current.CancellationToken);
        response.EnsureSuccessStatusCode();
    }

    public string VmPath(string name) => $"/subscriptions/{Subscription}/resourceGroups/{(Vms.ToList().FindIndex(v => v.Name == name) % 2 == 0 ? "rg-even" : "rg-odd")}/providers/Microsoft.Compute/virtualMachines/{name}";

    internal sealed record RequestEntry(string Method, string Path, int Status, string Group);

    public static void Chown(string path, int uid)
    {
        if (Lchown(path, uid, uid) != 0)
        {
            throw new InvalidOperationException($"lchown {path} failed");
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "lchown", SetLastError = true)]
#pragma warning disable CA5392, SYSLIB1054 // test helper: one call, libc only
    private static extern int Lchown(string path, int uid, int gid);
#pragma warning restore CA5392, SYSLIB1054

    public static async Task<string> RunToolAsync(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed ({process.ExitCode}): {await stderr}");
        }

        return await stdout;
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // a straggling script may still hold a file; the directory is a temp one
        }
    }

    public static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
