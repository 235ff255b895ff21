using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Latch.Rig;

namespace Latch.Demo;

/// <summary>
/// The demo as root: two real rig VMs (Debian rootfs overlay, network and UTS namespaces, real sshd) and the emulator
/// in the azure-host namespace. vm1 keeps keys the usual way (authorized_keys only); vm2 has Latch's key guard.
/// The emulator's hostile agent then rewrites both files to the portal key, as waagent/cloud-init did in our founding
/// story: the operator's login to vm1 is refused, to vm2 it works; `latch connect vm1` then repairs vm1 and logs in.
/// </summary>
internal sealed partial class RigDemo(StepRunner steps, DemoWorld world) : IAsyncDisposable
{
    /// <summary>How often a step re-checks a condition it waits for.</summary>
    private static readonly TimeSpan s_poll = TimeSpan.FromMilliseconds(50);

    private const int HostileIntervalMs = 250;
    private const int HostileMaxRewrites = 480; // two minutes at most, even if the demo were killed before it stops them

    private AzureHost? _host;
    private TrackedProcess? _guard;

    /// <summary>The azure host's id (names lt-az-ID, /tmp/lt-ID): what cleanup removes.</summary>
    public string? HostId => _host?.Id;

    public async Task<IReadOnlyList<AuditEntry>> RunAsync(CancellationToken cancellationToken)
    {
        var (vm1, vm2) = await steps.RunAsync("vms", "Boot two VMs: Debian rootfs overlay, network namespace, real sshd", async step =>
        {
            var building = false;
            _host = await AzureHost.StartAsync(line =>
            {
                if (!building)
                {
                    building = true;
                    step.Progress("building the Debian root filesystem once (debootstrap, about a minute; later runs reuse it)");
                }

                step.Progress(line);
            }, cancellationToken);
            var profile = new VmProfile { AdminUsername = DemoWorld.User, PublicKeys = [world.Portal.PublicKey] };
            var vms = await Task.WhenAll(_host.AddVmAsync("vm1", profile, cancellationToken), _host.AddVmAsync("vm2", profile, cancellationToken));
            step.Detail = $"rootfs {(building ? "built" : "cached")}; vm1 {vms[0].Address}, vm2 {vms[1].Address}, sshd on :22 in each (namespaces lt-vm1/2-{_host.Id})";
            return (vms[0], vms[1]);
        });

        var host = _host!;
        var emulator = await steps.RunAsync("emulator", "Start latch-emulator: IMDS, WireServer, ARM, Key Vault (one vault, two VMs)", async step =>
        {
            var scenario = Path.Combine(world.Directory, "scenario.json");
            await File.WriteAllBytesAsync(scenario, world.AddVault(ScenarioWriter.Write(host.Vms, host.OperatorClientSecret), AzureHost.OperatorClientId), cancellationToken);
            var started = await host.StartEmulatorAsync(scenario, cancellationToken: cancellationToken);
            step.Detail = $"IMDS {AzureHost.ImdsAddress}, WireServer {AzureHost.WireServerAddress}, control {EmulatorProcess.ControlUri}; vault {DemoWorld.Vault} holds {DemoWorld.SecretName}";
            return started;
        });

        await steps.RunAsync("provision", "Provision both VMs with latchd and wait for Ready at the WireServer", async step =>
        {
            step.Progress("latchd, latch-akc and latchd-guard: NativeAOT publish (cached under /var/cache/latch/latchd after the first run)");
            await Latchd.EnsurePublishedAsync(cancellationToken);
            await Task.WhenAll(ProvisionAsync(vm1), ProvisionAsync(vm2));
            var ready = new List<string>();
            foreach (var vm in (Vm[])[vm1, vm2])
            {
                var report = await emulator.WaitForHealthStateAsync(vm.Name, "Ready", TimeSpan.FromSeconds(60), cancellationToken);
                ready.Add($"{vm.Name} {EmulatorProcess.StateOf(report)}");
            }

            step.Detail = $"emulator recorded: {string.Join(", ", ready)}; user {DemoWorld.User} created with the portal key";
        });

        await steps.RunAsync("keys", "Give the operator's key to both: vm1 in authorized_keys, vm2 as a Latch-managed key", async step =>
        {
            var appended = await vm1.RunAsync($"cat >> /home/{DemoWorld.User}/.ssh/authorized_keys", world.Operator.PublicKey + "\n", cancellationToken: cancellationToken);
            Check(appended.Succeeded, $"vm1: appending the operator's key failed: {appended.Stderr.Trim()}");
            await LatchdAsync(vm2, ["keys", "add", DemoWorld.User, world.Operator.PublicKey, "--source", "demo"], cancellationToken);
            await LatchdAsync(vm2, ["guard", "install"], cancellationToken);
            _guard = vm2.StartProcess("latchd guard", [Latchd.PackagedPath, "guard", "watch"]);
            await _guard.WaitForLineAsync(l => l.Contains("guard: ready", StringComparison.Ordinal), TimeSpan.FromSeconds(30), cancellationToken);
            foreach (var vm in (Vm[])[vm1, vm2])
            {
                var login = await LoginAsync(vm, cancellationToken);
                Check(login.Succeeded && login.Stdout.Trim() == DemoWorld.User, $"{vm.Name}: the operator's first login failed (exit {login.ExitCode}): {login.Stderr.Trim()}");
            }

            step.Detail = "the operator logs in to both; vm2 runs the AuthorizedKeysCommand (latch-akc) and the file guard";
        });

        await steps.RunAsync("overwrite", "Hostile agent on: authorized_keys rewritten to the portal key, every 250 ms", async step =>
        {
            using var http = host.CreateHttpClient();
            foreach (var vm in (Vm[])[vm1, vm2])
            {
                await world.StartHostileAgentAsync(http, EmulatorProcess.ControlUri, vm.Name, HostileIntervalMs, HostileMaxRewrites, cancellationToken);
            }

            await DemoChecks.Eventually(s_poll, async () => (await vm1.TryReadFileAsync($"/home/{DemoWorld.User}/.ssh/authorized_keys", cancellationToken))?.Trim() == world.Portal.PublicKey,
                "vm1's authorized_keys was not rewritten to the portal key", cancellationToken);
            await DemoChecks.Eventually(s_poll, async () => await DemoWorld.HostileRewritesAsync(http, EmulatorProcess.ControlUri, "vm2", cancellationToken) >= 2,
                "the hostile agent did not rewrite vm2's authorized_keys", cancellationToken);
            step.Detail = "both files now hold only the portal key, as after waagent/cloud-init re-applied the VM's osProfile";
        });

        await steps.RunAsync("without-latch", "vm1 (no Latch): the operator logs in", async step =>
        {
            var login = await LoginAsync(vm1, cancellationToken);
            Check(!login.Succeeded, "vm1 let the operator in although the overwrite removed the key: the demo would prove nothing");
            Check(login.Stderr.Contains("Permission denied", StringComparison.Ordinal), $"vm1: expected 'Permission denied', got exit {login.ExitCode}: {login.Stderr.Trim()}");
            step.Detail = $"refused: {login.Stderr.Trim().Split('\n')[^1]} — the key vanished";
        });

        await steps.RunAsync("with-latch", "vm2 (Latch guard): the operator logs in during the same overwrites", async step =>
        {
            var login = await LoginAsync(vm2, cancellationToken);
            if (!login.Succeeded || login.Stdout.Trim() != DemoWorld.User)
            {
                throw new DemoCheckException($"vm2 refused the operator (exit {login.ExitCode}): {login.Stderr.Trim()}\n{await DiagnoseAsync(vm2, cancellationToken)}");
            }

            // the file guard may have won the race for that login: ask latch-akc exactly as sshd does (as its
            // AuthorizedKeysCommandUser, with the offered key), so the AuthorizedKeysCommand is proven on its own
            var akc = await vm2.ExecAsync(
                ["setpriv", "--reuid=latch-akc", "--regid=nogroup", "--clear-groups", Latchd.PackagedAkcPath, DemoWorld.User, "none", .. world.Operator.PublicKey.Split(' ')[..2]],
                cancellationToken: cancellationToken);
            if (!akc.Stdout.Contains(world.Operator.PublicKey.Split(' ')[1], StringComparison.Ordinal))
            {
                throw new DemoCheckException($"latch-akc, run as sshd runs it, did not answer with the operator's key: {akc.Stderr.Trim()}\n{await DiagnoseAsync(vm2, cancellationToken)}");
            }

            using var http = host.CreateHttpClient();
            var count = await DemoWorld.HostileRewritesAsync(http, EmulatorProcess.ControlUri, "vm2", cancellationToken);
            var status = await LatchdAsync(vm2, ["guard", "status"], cancellationToken);
            var restores = RestoresPattern().Match(status.Stdout) is { Success: true } m ? m.Groups[1].Value : "?";
            step.Detail = $"logged in as {login.Stdout.Trim()} after {count} rewrites: latch-akc (as user latch-akc) answers with the managed key; the file guard restored it {restores} times";
        });

        await steps.RunAsync("connect", "latch connect vm1: auto key sync, then a real ssh login running a command", async step =>
        {
            using (var http = host.CreateHttpClient())
            {
                await DemoWorld.StopHostileAgentAsync(http, EmulatorProcess.ControlUri, "vm1", cancellationToken);
            }

            // the CLI signs in at the emulator's Entra endpoint as the scenario's operator: the secret goes in the
            // environment, never on a command line
            var environment = new Dictionary<string, string>(Command.VmEnvironment)
            {
                ["HOME"] = world.CliHome,
                ["LATCH_CONFIG"] = world.CliConfig,
                ["LATCH_EMULATOR"] = EmulatorProcess.ControlUri.ToString(),
                ["AZURE_CLIENT_ID"] = AzureHost.OperatorClientId,
                ["AZURE_CLIENT_SECRET"] = host.OperatorClientSecret,
            };
            var result = await Command.RunAsync(
                [
                    "ip", "netns", "exec", host.Namespace, DemoWorld.LatchBinary, "connect", "vm1", "--",
                    "-i", world.Operator.PrivateKeyPath, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
                    "echo \"$(hostname) $(id -un) $(grep -c . ~/.ssh/authorized_keys) key(s)\"",
                ],
                environment: environment,
                timeout: TimeSpan.FromSeconds(90),
                cancellationToken: cancellationToken);
            foreach (var line in result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                step.Progress(line);
            }

            Check(result.Succeeded, $"latch connect exited {result.ExitCode}: {result.Stderr.Trim()}");
            var output = result.Stdout.Trim();
            Check(output.StartsWith($"vm1 {DemoWorld.User} ", StringComparison.Ordinal), $"the command on vm1 printed '{output}', expected 'vm1 {DemoWorld.User} …'");
            var record = world.ReadCliAudit().LastOrDefault();
            var method = record is null ? "?" : DemoWorld.JsonField(record, "method");
            step.Detail = $"synced the key from Key Vault by {method}, then ssh ran on the VM: {output}";
        });

        using (var http = host.CreateHttpClient())
        {
            await DemoWorld.StopHostileAgentAsync(http, EmulatorProcess.ControlUri, "vm2", cancellationToken);
        }

        var audit = new List<AuditEntry>();
        if (await vm2.TryReadFileAsync("/var/log/latch/audit.jsonl", cancellationToken) is { } guardLog)
        {
            var lines = guardLog.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            audit.AddRange(lines.TakeLast(4).Select(l => new AuditEntry("vm2 latchd /var/log/latch/audit.jsonl", l)));
        }

        audit.AddRange(world.ReadCliAudit().Select(l => new AuditEntry("latch ~/.local/state/latch/audit.jsonl", l)));
        return audit;

        async Task ProvisionAsync(Vm vm)
        {
            await Latchd.InstallPackagedAsync(vm, cancellationToken);
            var result = await vm.ExecAsync([Latchd.PackagedPath, "provision"], timeout: TimeSpan.FromMinutes(2), cancellationToken: cancellationToken);
            Check(result.Succeeded, $"{vm.Name}: latchd provision exited {result.ExitCode}: {Tail(result.Stderr)}");
        }
    }

    /// <summary>What sshd on the VM had to go on: the effective AuthorizedKeysCommand, latch-akc's answer, authorized_keys.</summary>
    private async Task<string> DiagnoseAsync(Vm vm, CancellationToken cancellationToken)
    {
        var effective = await vm.ExecAsync(["/usr/sbin/sshd", "-T"], cancellationToken: cancellationToken);
        var akc = await vm.ExecAsync([Latchd.PackagedAkcPath, DemoWorld.User], cancellationToken: cancellationToken);
        var file = await vm.TryReadFileAsync($"/home/{DemoWorld.User}/.ssh/authorized_keys", cancellationToken);
        var modes = await vm.RunAsync($"ls -la /home/{DemoWorld.User}/.ssh /var/lib/latch/keys", cancellationToken: cancellationToken);
        return $"sshd -T: {string.Join("; ", effective.Stdout.Split('\n').Where(l => l.StartsWith("authorizedkeys", StringComparison.Ordinal)))}\n"
            + $"latch-akc {DemoWorld.User}: exit {akc.ExitCode}, {akc.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length} line(s); {akc.Stderr.Trim()}\n"
            + $"authorized_keys now: {file?.Replace('\n', '|')}\n{modes.Stdout}\nsshd's log:\n{vm.Sshd?.Log}";
    }

    /// <summary>What --keep prints: how to look around while the demo waits.</summary>
    public string ExploreHint()
    {
        var host = _host!;
        var vm = host.Vms[0];
        return new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"  ssh to vm1:     ip netns exec {host.Namespace} ssh -i {world.Operator.PrivateKeyPath} -o StrictHostKeyChecking=no {DemoWorld.User}@{vm.Address}")
            .AppendLine(CultureInfo.InvariantCulture, $"  a root shell:   {string.Join(' ', vm.ExecPrefix)} /bin/bash")
            .AppendLine(CultureInfo.InvariantCulture, $"  emulator API:   ip netns exec {host.Namespace} curl -s {EmulatorProcess.ControlUri}vms")
            .ToString();
    }

    private async Task<CommandResult> LatchdAsync(Vm vm, IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        var result = await vm.ExecAsync([Latchd.PackagedPath, .. args], timeout: TimeSpan.FromMinutes(2), cancellationToken: cancellationToken);
        Check(result.Succeeded, $"{vm.Name}: latchd {string.Join(' ', args.Take(2))} exited {result.ExitCode}: {Tail(result.Stderr + result.Stdout)}");
        return result;
    }

    /// <summary>A real ssh login with the operator's key; retried briefly while sshd reloads after provisioning.</summary>
    private async Task<CommandResult> LoginAsync(Vm vm, CancellationToken cancellationToken)
    {
        CommandResult result = null!;
        for (var attempt = 0; attempt < 40; attempt++)
        {
            result = await vm.SshAsync(DemoWorld.User, world.Operator.PrivateKeyPath, "id -un", cancellationToken: cancellationToken);
            if (result.ExitCode != 255 || result.Stderr.Contains("Permission denied", StringComparison.Ordinal))
            {
                return result;
            }

            await Task.Delay(250, cancellationToken);
        }

        return result;
    }

    private static void Check(bool condition, string failure)
    {
        if (!condition)
        {
            throw new DemoCheckException(failure);
        }
    }

    private static string Tail(string text) => text.Trim() is { Length: > 800 } long_ ? "…" + long_[^800..] : text.Trim();

    [GeneratedRegex(@"(\d+) restore\(s\)")]
    private static partial Regex RestoresPattern();

    public async ValueTask DisposeAsync()
    {
        if (_guard is not null)
        {
            await _guard.DisposeAsync();
        }

        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }
}
