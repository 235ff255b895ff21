using System.CommandLine;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using Latch.Demo.Interop;
using Latch.Rig;
using Spectre.Console;

namespace Latch.Demo;

internal static class Program
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;
    public const int Interrupted = 130;
    public const int Terminated = 143;

    private static async Task<int> Main(string[] args)
    {
        var sandbox = new Option<bool>("--sandbox") { Description = "Use sandboxed VM directories even as root (no namespaces, mounts or sshd)" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON on stdout (progress goes to stderr)" };
        var keep = new Option<bool>("--keep") { Description = "Leave everything running after the summary, for exploring, until Ctrl-C" };
        var root = new RootCommand(
            "latch demo: the whole Latch story on the embedded emulator, no Azure account needed. As root: real VMs (Debian " +
            "rootfs, network namespaces, sshd); otherwise sandboxed VM directories. Exit codes: 0 every step as expected, 1 a step " +
            "failed, 2 usage, 130 interrupted (SIGINT), 143 terminated (SIGTERM); everything started is cleaned up in each case.");
        root.Options.Add(sandbox);
        root.Options.Add(json);
        root.Options.Add(keep);
        root.SetAction((parse, _) => new Demo(parse.GetValue(sandbox), parse.GetValue(json), parse.GetValue(keep)).RunAsync());
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors)
            {
                await Console.Error.WriteLineAsync("latch demo: " + error.Message);
            }

            await Console.Error.WriteLineAsync("Run 'latch demo --help' for usage.");
            return Usage;
        }

        // the demo handles SIGINT/SIGTERM itself: it must clean up, however long that takes
        return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
    }
}

/// <summary>One run of the demo: picks the mode, runs the steps, cleans up (also on failure and on a signal), reports.</summary>
internal sealed class Demo(bool forceSandbox, bool json, bool keep)
{
    private readonly TimeProvider _time = TimeProvider.System;

    public async Task<int> RunAsync()
    {
        var console = new DemoConsole(json);
        using var stop = new CancellationTokenSource();
        var signal = 0;
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

        var isRoot = Ids.EffectiveUid == 0;
        var missing = isRoot ? new[] { "ip", "nsenter", "unshare", "mount", "ssh", "ssh-keygen" }.Where(t => RepoPaths.Which(t) is null).ToList() : [];
        var (sandbox, reason) = (forceSandbox, isRoot, missing.Count) switch
        {
            (true, _, _) => (true, "--sandbox was given: sandboxed VM directories, no namespaces, mounts or sshd"),
            (false, false, _) => (true, $"not running as root (uid {Ids.Uid}): no network namespaces, overlay mounts or chroot, so no real VM and no sshd. For real VMs: sudo ./latch demo"),
            (false, true, > 0) => (true, $"root, but {string.Join(", ", missing)} not found (run scripts/install-deps.sh): sandboxed VM directories instead of real VMs"),
            _ => (false, "running as root: real VMs (Debian rootfs overlay, network and UTS namespaces, real sshd)"),
        };
        var mode = sandbox ? "sandbox" : "vm";
        console.Line($"[bold]latch demo[/] — mode [bold yellow]{mode}[/]: {Markup.Escape(reason)}");

        var directory = DemoDirectory(sandbox, isRoot);
        var steps = new StepRunner(console, _time);
        var started = _time.GetTimestamp();
        IReadOnlyList<AuditEntry> audit = [];
        string? rigId = null;
        var cleanup = "";
        RigDemo? rig = null;
        SandboxDemo? box = null;
        try
        {
            var world = await steps.RunAsync("setup", "Make the demo's keys: the portal key (Azure's osProfile) and the operator's own", async step =>
            {
                var created = await DemoWorld.CreateAsync(directory, stop.Token);
                step.Detail = $"ed25519 keys by ssh-keygen in {directory}";
                return created;
            });
            if (sandbox)
            {
                box = new SandboxDemo(steps, world, isRoot);
                audit = await box.RunAsync(stop.Token);
            }
            else
            {
                rig = new RigDemo(steps, world);
                audit = await rig.RunAsync(stop.Token);
            }

            if (keep)
            {
                console.Line("[bold]--keep:[/] everything stays up until Ctrl-C. Try:");
                console.Out.WriteLine(rig?.ExploreHint() ?? $"  the VM directories: {directory}/vm1, {directory}/vm2\n");
                await Task.Delay(Timeout.Infinite, stop.Token).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
        catch (DemoFailedException)
        {
            // recorded by the step runner; clean up and report below
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            console.Line("[yellow]interrupted: cleaning up[/]");
        }
        finally
        {
            rigId = rig?.HostId;
            cleanup = await CleanUpAsync(console, rig, box, directory);
        }

        var total = _time.GetElapsedTime(started).TotalSeconds;
        var succeeded = !steps.AnyFailed && signal == 0 && !cleanup.StartsWith("FAILED", StringComparison.Ordinal);
        var result = new DemoResult(mode, reason, rigId, directory, succeeded, total, steps.Steps, audit, cleanup);
        Summary.Print(console, result);
        if (json)
        {
            await Console.Out.WriteLineAsync(JsonSerializer.Serialize(result, DemoJsonContext.Default.DemoResult));
        }

        return signal switch
        {
            (int)PosixSignal.SIGINT => Program.Interrupted,
            (int)PosixSignal.SIGTERM => Program.Terminated,
            _ => succeeded ? Program.Ok : Program.Failed,
        };

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            Interlocked.CompareExchange(ref signal, (int)context.Signal, 0);
            stop.Cancel();
        }
    }

    /// <summary>Stops every process by pid, removes namespaces, mounts and directories; says what it did or what is left.</summary>
    private async Task<string> CleanUpAsync(DemoConsole console, RigDemo? rig, SandboxDemo? box, string directory)
    {
        var started = _time.GetTimestamp();
        var problems = new List<string>();
        foreach (var part in new IAsyncDisposable?[] { rig, box })
        {
            if (part is null)
            {
                continue;
            }

            try
            {
                await part.DisposeAsync();
            }
            catch (Exception e) when (e is AggregateException or RigException or IOException or InvalidOperationException or TimeoutException)
            {
                problems.Add(e.Message);
            }
        }

        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problems.Add($"{directory}: {e.Message}");
        }

        var seconds = DemoWorld.Seconds(_time.GetElapsedTime(started).TotalSeconds);
        var text = problems.Count == 0
            ? $"removed everything the demo started ({(rig?.HostId is { } id ? $"VMs, namespaces lt-*-{id}, mounts, processes, " : "processes, ")}{directory}) in {seconds} s"
            : $"FAILED to remove: {string.Join("; ", problems)} (the next rig run's janitor retries the namespaces and mounts)";
        console.Line(problems.Count == 0 ? $"[green]cleanup:[/] {Markup.Escape(text)}" : $"[red]cleanup: {Markup.Escape(text)}[/]");
        return text;
    }

    /// <summary>
    /// A fresh private directory. The sandbox's key store must have only root-owned, not world-writable directories
    /// above it (as on a VM), so as root it lives under /run; without root under XDG_RUNTIME_DIR or ~/.cache.
    /// </summary>
    private static string DemoDirectory(bool sandbox, bool isRoot)
    {
        var name = "latch-demo-" + RandomNumberGenerator.GetHexString(8, lowercase: true);
        if (!sandbox)
        {
            return Path.Combine(Path.GetTempPath(), name);
        }

        if (isRoot)
        {
            Directory.CreateDirectory("/run/latch-demo");
            return Path.Combine("/run/latch-demo", name);
        }

        var runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        var parent = runtime is { Length: > 0 } && Directory.Exists(runtime)
            ? runtime
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(parent, name);
    }
}
