using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Latch.Rig;
using Latch.Testing;

namespace Latch.VmTests;

/// <summary>
/// `latch demo` end to end, as a user runs it: the real latch-demo process (this checkout's build) with --json, whose
/// steps' outcomes and details are asserted, and whose cleanup is checked from outside (namespaces, directories).
/// </summary>
public sealed class DemoTests
{
    private static readonly string[] s_rigSteps = ["setup", "vms", "emulator", "provision", "keys", "overwrite", "without-latch", "with-latch", "connect"];

    [Fact]
    public async Task As_root_the_key_vanishes_without_Latch_survives_with_the_guard_and_connect_repairs_it()
    {
        RigRequires.All();
        Requires.Tool("dotnet");

        var run = await DemoRun.RunAsync(["--json"]);

        Assert.True(run.ExitCode == 0, run.Explain());
        var result = run.Result;
        Assert.Equal("vm", result.GetProperty("mode").GetString());
        Assert.True(result.GetProperty("succeeded").GetBoolean(), run.Explain());
        var steps = Steps(result);
        Assert.Equal(s_rigSteps, steps.Keys);
        Assert.All(steps, s => Assert.True(s.Value.Outcome == "Ok", $"{s.Key}: {s.Value.Outcome} {s.Value.Detail}"));
        Assert.Contains("vm1 Ready, vm2 Ready", steps["provision"].Detail, StringComparison.Ordinal);
        Assert.Contains("Permission denied (publickey)", steps["without-latch"].Detail, StringComparison.Ordinal);
        Assert.Contains("logged in as azureuser", steps["with-latch"].Detail, StringComparison.Ordinal);
        Assert.Contains("on the VM: vm1 azureuser", steps["connect"].Detail, StringComparison.Ordinal);

        var audit = result.GetProperty("audit").EnumerateArray().Select(a => (Source: a.GetProperty("source").GetString()!, Record: a.GetProperty("record").GetString()!)).ToList();
        Assert.Contains(audit, a => a.Source.StartsWith("vm2 latchd", StringComparison.Ordinal) && a.Record.Contains("\"action\":\"restore\"", StringComparison.Ordinal));
        Assert.Contains(audit, a => a.Source.StartsWith("latch ", StringComparison.Ordinal)
            && a.Record.Contains("\"command\":\"connect\"", StringComparison.Ordinal) && a.Record.Contains("\"synced\":true", StringComparison.Ordinal));
        Assert.DoesNotContain(audit, a => a.Record.Contains("PRIVATE KEY", StringComparison.Ordinal));

        await AssertCleanedUpAsync(result);
        Assert.Contains("lt-*-", result.GetProperty("cleanup").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Forced_sandbox_mode_says_why_runs_latchd_on_a_prefix_root_and_skips_only_what_needs_sshd_or_root()
    {
        Requires.Root();
        Requires.Tool("ssh-keygen", "openssh-client");
        Requires.Tool("dotnet");

        var run = await DemoRun.RunAsync(["--sandbox", "--json"]);

        Assert.True(run.ExitCode == 0, run.Explain());
        var result = run.Result;
        Assert.Equal("sandbox", result.GetProperty("mode").GetString());
        Assert.Contains("--sandbox was given", result.GetProperty("modeReason").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, result.GetProperty("rigId").ValueKind);
        var steps = Steps(result);
        Assert.Equal(["setup", "vms", "emulator", "provision", "ready", "keys", "overwrite", "without-latch", "with-latch", "connect"], steps.Keys);
        Assert.Equal(["ready", "connect"], steps.Where(s => s.Value.Outcome == "Skipped").Select(s => s.Key));
        Assert.All(steps.Where(s => s.Value.Outcome != "Skipped"), s => Assert.True(s.Value.Outcome == "Ok", $"{s.Key}: {s.Value.Outcome} {s.Value.Detail}"));
        Assert.Contains("needs root", steps["ready"].Detail, StringComparison.Ordinal);
        Assert.Contains("vanished", steps["without-latch"].Detail, StringComparison.Ordinal);
        Assert.Contains("latch-akc still answers with the operator's key", steps["with-latch"].Detail, StringComparison.Ordinal);
        Assert.Contains("latchd provisioning plan for VM", run.Stderr, StringComparison.Ordinal);
        Assert.Contains(result.GetProperty("audit").EnumerateArray(), a => a.GetProperty("record").GetString()!.Contains("\"action\":\"restore\"", StringComparison.Ordinal));
        await AssertCleanedUpAsync(result);
    }

    [Fact]
    public async Task Without_root_the_demo_picks_sandbox_mode_says_so_and_skips_the_guard_with_the_reason()
    {
        Requires.Root(); // to become an unprivileged user for the run
        Requires.Tool("setpriv", "util-linux");
        Requires.Tool("ssh-keygen", "openssh-client");
        Requires.Tool("dotnet");

        var run = await DemoRun.RunAsync(["--json"], asNobody: true);

        Assert.True(run.ExitCode == 0, run.Explain());
        var result = run.Result;
        Assert.Equal("sandbox", result.GetProperty("mode").GetString());
        Assert.Contains("not running as root (uid 65534)", result.GetProperty("modeReason").GetString(), StringComparison.Ordinal);
        var steps = Steps(result);
        Assert.Equal(["ready", "keys", "with-latch", "connect"], steps.Where(s => s.Value.Outcome == "Skipped").Select(s => s.Key));
        Assert.Contains("owned by root", steps["keys"].Detail, StringComparison.Ordinal);
        Assert.All(steps.Where(s => s.Value.Outcome != "Skipped"), s => Assert.True(s.Value.Outcome == "Ok", $"{s.Key}: {s.Value.Outcome} {s.Value.Detail}"));
        await AssertCleanedUpAsync(result);
    }

    [Fact]
    public async Task Ctrl_C_during_the_demo_exits_130_and_removes_the_vms_namespaces_and_directories()
    {
        RigRequires.All();
        Requires.Tool("dotnet");

        // interrupt once the VMs and the emulator run: the richest state to clean up
        var run = await DemoRun.RunAsync(["--json"], interruptWhen: line => line.Contains("Provision both VMs", StringComparison.Ordinal));

        Assert.True(run.ExitCode == 130, run.Explain());
        var result = run.Result;
        Assert.False(result.GetProperty("succeeded").GetBoolean());
        Assert.Contains("interrupted: cleaning up", run.Stderr, StringComparison.Ordinal);
        Assert.NotEqual(JsonValueKind.Null, result.GetProperty("rigId").ValueKind);
        await AssertCleanedUpAsync(result);
    }

    private static Dictionary<string, (string Outcome, string Detail)> Steps(JsonElement result) =>
        result.GetProperty("steps").EnumerateArray().ToDictionary(
            s => s.GetProperty("id").GetString()!,
            s => (s.GetProperty("outcome").GetString()!, s.GetProperty("detail").GetString()!));

    /// <summary>Nothing the demo made is left: its directory, and for the real VMs the namespaces, veths' owners and /tmp/lt-ID.</summary>
    private static async Task AssertCleanedUpAsync(JsonElement result)
    {
        Assert.DoesNotContain("FAILED", result.GetProperty("cleanup").GetString(), StringComparison.Ordinal);
        Assert.False(Directory.Exists(result.GetProperty("directory").GetString()), "the demo's directory is still there");
        if (result.GetProperty("rigId").GetString() is { } id)
        {
            var namespaces = await NetNs.ListAsync(TestContext.Current.CancellationToken);
            Assert.DoesNotContain(namespaces, n => n.EndsWith("-" + id, StringComparison.Ordinal));
            Assert.False(Directory.Exists(Path.Combine(Path.GetTempPath(), "lt-" + id)), $"/tmp/lt-{id} is still there");
            Assert.DoesNotContain($"/tmp/lt-{id}/", await File.ReadAllTextAsync("/proc/self/mountinfo", TestContext.Current.CancellationToken), StringComparison.Ordinal);
        }
    }

    /// <summary>One run of this checkout's latch-demo (built with the tests, same configuration) as a child process.</summary>
    private sealed record DemoRun(int ExitCode, string Stdout, string Stderr)
    {
        public JsonElement Result
        {
            get
            {
                try
                {
                    using var json = JsonDocument.Parse(Stdout);
                    return json.RootElement.Clone();
                }
                catch (JsonException e)
                {
                    Assert.Fail($"latch-demo --json printed no JSON document ({e.Message}):\n{Explain()}");
                    throw;
                }
            }
        }

        public string Explain() => $"exit {ExitCode}\n--- stderr (progress) ---\n{Stderr}\n--- stdout ---\n{Stdout}";

        public static async Task<DemoRun> RunAsync(IReadOnlyList<string> args, bool asNobody = false, Func<string, bool>? interruptWhen = null)
        {
            var framework = Path.GetFileName(AppContext.BaseDirectory.TrimEnd('/'));
            var dll = Path.Combine(RepoPaths.Root, "src", "Latch.Demo", "bin", RepoPaths.Configuration, framework, "latch-demo.dll");
            Assert.True(File.Exists(dll), $"{dll} is missing: the VmTests project builds src/Latch.Demo");
            var dotnet = EmulatorProcess.LocateDotnet();
            IReadOnlyList<string> argv = asNobody
                ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env", "HOME=/tmp", dotnet, dll, .. args]
                : [dotnet, dll, .. args];
            var start = Command.CreateStartInfo(argv, null);
            start.Environment.Remove("XDG_RUNTIME_DIR");
            start.Environment["DOTNET_NOLOGO"] = "1";
            using var process = new Process { StartInfo = start };
            var stderr = new StringBuilder();
            var interrupted = 0;
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null)
                {
                    return;
                }

                lock (stderr)
                {
                    stderr.AppendLine(e.Data);
                }

                if (interruptWhen is not null && interruptWhen(e.Data) && Interlocked.Exchange(ref interrupted, 1) == 0)
                {
                    _ = Latch.Rig.Interop.Libc.Kill(process.Id, 2); // SIGINT, as Ctrl-C sends
                }
            };
            process.Start();
            process.BeginErrorReadLine();
            var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            deadline.CancelAfter(TimeSpan.FromMinutes(25)); // only against a hang: the first run may build the rootfs and publish latchd (minutes on a busy machine)
            try
            {
                await process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                // SIGTERM first: the demo cleans up (namespaces, mounts) before it exits; kill only what still hangs
                _ = Latch.Rig.Interop.Libc.Kill(process.Id, 15);
                if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
                {
                    process.Kill(entireProcessTree: true);
                }

                throw;
            }

            process.WaitForExit(); // drains the stderr events
            string errors;
            lock (stderr)
            {
                errors = stderr.ToString();
            }

            return new DemoRun(process.ExitCode, await stdout, errors);
        }
    }
}
