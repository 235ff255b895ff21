using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Latch.Rig;

namespace Latch.Demo;

/// <summary>
/// The demo without the rig: the emulator on 127.0.0.1 and each "VM" a directory (a prefix root) that latchd manages
/// with <c>--root</c> / the guard's path settings. No namespaces, mounts, chroot or sshd, so no real login: what sshd
/// would decide is shown from what it would read (authorized_keys, and latch-akc's answer). latchd's writes need root
/// (useradd and visudo run chrooted, the key store must be root-owned), so provisioning is a dry run here, and the
/// guard runs only when the demo itself is root (e.g. <c>--sandbox</c> as root).
/// </summary>
internal sealed class SandboxDemo(StepRunner steps, DemoWorld world, bool isRoot) : IAsyncDisposable
{
    /// <summary>How often a step re-checks a condition it waits for.</summary>
    private static readonly TimeSpan s_poll = TimeSpan.FromMilliseconds(25);

    private const int HostileIntervalMs = 250;
    private const int HostileMaxRewrites = 480;

    private readonly List<TrackedProcess> _processes = [];

    public static string LatchdBinary => Path.Combine(RepoPaths.Root, "src", "Latch.Agent", "bin", RepoPaths.Configuration, DemoWorld.Framework, "latchd");

    public static string AkcBinary => Path.Combine(RepoPaths.Root, "src", "Latch.Akc", "bin", RepoPaths.Configuration, DemoWorld.Framework, "latch-akc");

    private string VmRoot(string vm) => Path.Combine(world.Directory, vm);

    private string AuthorizedKeys(string vm) => VmRoot(vm) + $"/home/{DemoWorld.User}/.ssh/authorized_keys";

    private string GuardConfig => VmRoot("vm2") + "/etc/latch/latchd.toml";

    private string StoreDirectory => VmRoot("vm2") + "/var/lib/latch/keys";

    public async Task<IReadOnlyList<AuditEntry>> RunAsync(CancellationToken cancellationToken)
    {
        await steps.RunAsync("vms", "Make two sandboxed VM directories (prefix roots: /etc, /home, no sshd)", async step =>
        {
            foreach (var vm in (string[])["vm1", "vm2"])
            {
                await MakeVmAsync(vm, cancellationToken);
            }

            step.Detail = $"{VmRoot("vm1")} and {VmRoot("vm2")}: {DemoWorld.User} with the portal and the operator's key in authorized_keys";
        });

        var endpoints = await steps.RunAsync("emulator", "Start latch-emulator on 127.0.0.1: IMDS, WireServer, ARM, Key Vault (one vault, two VMs)", async step =>
        {
            var found = await StartEmulatorAsync(cancellationToken);
            step.Detail = $"IMDS {found["imds"]}, WireServer {found["wireserver"]}, control {found["control"]}; vault {DemoWorld.Vault}";
            return found;
        });
        var control = new Uri(endpoints["control"]);

        await steps.RunAsync("provision", "latchd provision --dry-run --root vm1: read IMDS and the WireServer, print the plan", async step =>
        {
            var result = await Command.RunAsync(
                [LatchdBinary, "provision", "--dry-run", "--root", VmRoot("vm1"), "--imds", endpoints["imds"], "--wireserver", endpoints["wireserver"]],
                timeout: TimeSpan.FromMinutes(1), cancellationToken: cancellationToken);
            if (!result.Succeeded)
            {
                throw new DemoCheckException($"latchd provision --dry-run exited {result.ExitCode}: {result.Stderr.Trim()}");
            }

            foreach (var line in result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                step.Progress(line);
            }

            step.Detail = "plan built from the emulator's IMDS for vm1; nothing written (dry run)";
        });
        steps.Skip("ready", "Report Ready to the WireServer",
            "a real provisioning run needs root (useradd, visudo and ssh-keygen run chrooted into the VM), and Ready follows it: run the demo as root for the real VM");

        if (isRoot)
        {
            await steps.RunAsync("keys", "vm1 keeps the operator's key in authorized_keys; vm2 gets it as a Latch-managed key with the guard", async step =>
            {
                await LatchdAsync(["keys", "add", "--config", GuardConfig, DemoWorld.User, world.Operator.PublicKey, "--source", "demo"], cancellationToken);
                var guard = TrackedProcess.Start("latchd guard", [LatchdBinary, "guard", "watch", "--config", GuardConfig], Command.VmEnvironment);
                _processes.Add(guard);
                await guard.WaitForLineAsync(l => l.Contains("guard: ready", StringComparison.Ordinal), TimeSpan.FromSeconds(30), cancellationToken);
                step.Detail = $"key store {StoreDirectory}; file guard watching vm2's authorized_keys";
            });
        }
        else
        {
            steps.Skip("keys", "Latch-managed key and guard on vm2",
                "the key store must be owned by root (latch-akc and the guard refuse anything else, as sshd would): run the demo as root");
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        await steps.RunAsync("overwrite", "Hostile agent on: authorized_keys rewritten to the portal key, every 250 ms", async step =>
        {
            foreach (var vm in (string[])["vm1", "vm2"])
            {
                await world.StartHostileAgentAsync(http, control, vm, HostileIntervalMs, HostileMaxRewrites, cancellationToken);
            }

            await DemoChecks.Eventually(s_poll, () => Task.FromResult(ReadOrEmpty(AuthorizedKeys("vm1")).Trim() == world.Portal.PublicKey), "vm1's authorized_keys was not rewritten to the portal key", cancellationToken);
            await DemoChecks.Eventually(s_poll, async () => await DemoWorld.HostileRewritesAsync(http, control, "vm2", cancellationToken) >= 2,
                "the hostile agent did not rewrite vm2's authorized_keys", cancellationToken);
            step.Detail = "vm1's file now holds only the portal key, as after waagent/cloud-init re-applied the VM's osProfile";
        });

        await steps.RunAsync("without-latch", "vm1 (no Latch): is the operator's key still there?", step =>
        {
            var content = ReadOrEmpty(AuthorizedKeys("vm1"));
            if (content.Contains(world.Operator.PublicKey, StringComparison.Ordinal))
            {
                throw new DemoCheckException("vm1 still has the operator's key after the overwrite: the demo would prove nothing");
            }

            step.Detail = "the operator's key vanished: sshd would refuse the login (no sshd in sandbox mode)";
            return Task.CompletedTask;
        });

        if (isRoot)
        {
            await steps.RunAsync("with-latch", "vm2 (Latch guard): what sshd would get during the same overwrites", async step =>
            {
                var rewrites = await DemoWorld.HostileRewritesAsync(http, control, "vm2", cancellationToken);
                var akc = await Command.RunAsync([AkcBinary, "--store", StoreDirectory, DemoWorld.User], cancellationToken: cancellationToken);
                if (!akc.Stdout.Contains(world.Operator.PublicKey.Split(' ')[1], StringComparison.Ordinal))
                {
                    throw new DemoCheckException($"latch-akc did not print the operator's key: {akc.Stderr.Trim()}");
                }

                await DemoChecks.Eventually(s_poll, () => Task.FromResult(ReadOrEmpty(AuthorizedKeys("vm2")).Contains(world.Operator.PublicKey.Split(' ')[1], StringComparison.Ordinal)),
                    "the file guard did not put the operator's key back into vm2's authorized_keys", cancellationToken);
                step.Detail = $"after {rewrites} rewrites latch-akc still answers with the operator's key and the file guard restored authorized_keys";
            });
        }
        else
        {
            steps.Skip("with-latch", "vm2 (Latch guard) during the same overwrites", "needs the guard (see 'keys'): run the demo as root");
        }

        steps.Skip("connect", "latch connect vm1 with auto key sync and a real ssh login",
            "needs a VM with sshd in its own network namespace: run the demo as root");

        foreach (var vm in (string[])["vm1", "vm2"])
        {
            await DemoWorld.StopHostileAgentAsync(http, control, vm, cancellationToken);
        }

        var audit = VmRoot("vm2") + "/var/log/latch/audit.jsonl";
        return File.Exists(audit)
            ? [.. File.ReadAllLines(audit).Where(l => l.Length > 0).TakeLast(8).Select(l => new AuditEntry("vm2 latchd " + audit, l))]
            : [];
    }

    private async Task MakeVmAsync(string vm, CancellationToken cancellationToken)
    {
        var root = VmRoot(vm);
        var home = root + "/home/" + DemoWorld.User;
        // as root the user gets an ordinary uid (the guard writes the file as its owner); otherwise the demo's own
        var (uid, gid) = isRoot ? (1000u, 1000u) : (Interop.Ids.Uid, Interop.Ids.Gid);
        foreach (var directory in (string[])["/etc/latch", "/etc/ssh", "/var/lib/latch", "/var/log/latch", "/run/latch"])
        {
            Directory.CreateDirectory(root + directory);
        }

        Directory.CreateDirectory(home + "/.ssh");
        // the guard reads homes from its passwd file as host paths: vm2's home is given as the sandbox's path
        await File.WriteAllTextAsync(root + "/etc/passwd",
            $"root:x:0:0:root:/root:/bin/bash\n{DemoWorld.User}:x:{uid}:{gid}::{home}:/bin/bash\n", cancellationToken);
        await File.WriteAllTextAsync(root + "/etc/group", $"root:x:0:\n{DemoWorld.User}:x:{gid}:\n", cancellationToken);
        await File.WriteAllTextAsync(root + "/etc/hostname", vm + "\n", cancellationToken);
        await File.WriteAllTextAsync(root + "/etc/ssh/sshd_config", "Include /etc/ssh/sshd_config.d/*.conf\n", cancellationToken);
        await File.WriteAllTextAsync(home + "/.ssh/authorized_keys", world.Portal.PublicKey + "\n" + world.Operator.PublicKey + "\n", cancellationToken);
        File.SetUnixFileMode(home + "/.ssh", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.SetUnixFileMode(home + "/.ssh/authorized_keys", UnixFileMode.UserRead | UnixFileMode.UserWrite);
        if (isRoot)
        {
            await Command.CheckAsync(["chown", "-R", $"{uid}:{gid}", home], cancellationToken: cancellationToken);
        }

        await File.WriteAllTextAsync(root + "/etc/latch/latchd.toml", $"""
            # the guard's paths inside this sandboxed VM (on a real VM they are the defaults under /)
            [guard]
            store_dir = "{root}/var/lib/latch/keys"
            audit_log = "{root}/var/log/latch/audit.jsonl"
            socket = "{root}/run/latch/latchd.sock"
            passwd_file = "{root}/etc/passwd"
            """ + "\n", cancellationToken);
    }

    /// <summary>Starts the emulator on 127.0.0.1 (free ports) as a child process; returns the endpoint lines it printed.</summary>
    private async Task<Dictionary<string, string>> StartEmulatorAsync(CancellationToken cancellationToken)
    {
        var scenario = Path.Combine(world.Directory, "scenario.json");
        await File.WriteAllBytesAsync(scenario, world.AddVault(Scenario(), AzureHost.OperatorClientId), cancellationToken);
        var state = Path.Combine(world.Directory, "emulator");
        Directory.CreateDirectory(state);
        var dll = await EmulatorProcess.LocateAsync(cancellationToken);
        var emulator = TrackedProcess.Start("latch-emulator", [EmulatorProcess.LocateDotnet(), dll, "--scenario", scenario, "--state-dir", state], Environment());
        _processes.Add(emulator);
        await emulator.WaitForLineAsync(l => l.Trim() == "ready", TimeSpan.FromSeconds(60), cancellationToken);
        return emulator.Log.Split('\n').TakeWhile(l => l.Trim() != "ready")
            .Select(l => l.Split(' ', 2))
            .Where(p => p.Length == 2 && p[1].StartsWith("http", StringComparison.Ordinal))
            .GroupBy(p => p[0]).ToDictionary(g => g.Key, g => g.First()[1].Trim());

        static Dictionary<string, string> Environment()
        {
            var environment = new Dictionary<string, string>(Command.VmEnvironment) { ["HOME"] = Path.GetTempPath(), ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1", ["DOTNET_NOLOGO"] = "1" };
            if (System.Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } dotnetRoot)
            {
                environment["DOTNET_ROOT"] = dotnetRoot;
            }

            return environment;
        }
    }

    /// <summary>The emulator's view of the two sandboxed VMs: the hostile agent writes their authorized_keys on the host.</summary>
    private byte[] Scenario()
    {
        var vms = new JsonArray();
        foreach (var (vm, source) in new[] { ("vm1", "127.0.0.1"), ("vm2", "127.0.0.2") })
        {
            vms.Add((JsonNode)new JsonObject
            {
                ["name"] = vm,
                ["computerName"] = vm,
                ["adminUsername"] = DemoWorld.User,
                ["publicKeys"] = new JsonArray(new JsonObject { ["keyData"] = world.Portal.PublicKey, ["path"] = $"/home/{DemoWorld.User}/.ssh/authorized_keys" }),
                ["authorizedKeysHostPath"] = AuthorizedKeys(vm),
                ["sourceAddress"] = source,
            });
        }

        var root = new JsonObject
        {
            ["subscriptionId"] = AzureHost.SubscriptionId,
            ["tenantId"] = AzureHost.TenantId,
            ["servicePrincipals"] = new JsonArray(new JsonObject { ["clientId"] = AzureHost.OperatorClientId, ["clientSecret"] = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)) }),
            ["vms"] = vms,
        };
        return Encoding.UTF8.GetBytes(root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    private async Task LatchdAsync(IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        var result = await Command.RunAsync([LatchdBinary, .. args], timeout: TimeSpan.FromMinutes(1), cancellationToken: cancellationToken);
        if (!result.Succeeded)
        {
            throw new DemoCheckException($"latchd {string.Join(' ', args.Take(2))} exited {result.ExitCode}: {(result.Stderr + result.Stdout).Trim()}");
        }
    }

    private static string ReadOrEmpty(string path) => File.Exists(path) ? File.ReadAllText(path) : "";

    public async ValueTask DisposeAsync()
    {
        foreach (var process in Enumerable.Reverse(_processes))
        {
            await process.DisposeAsync();
        }
    }
}
