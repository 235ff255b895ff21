using System.Collections;
using System.Runtime.InteropServices;
using Latch.Agent.Config;
using Latch.Agent.Os;
using Latch.Agent.Provisioning;

namespace Latch.Agent.Daemon;

/// <summary>
/// <c>latchd run</c>: the service. Provisions when this VM is not provisioned yet (or only reports Ready when
/// Provisioning.Agent is disabled/cloud-init), tells systemd READY=1 once Ready was reported, then waits for SIGTERM
/// or SIGINT and exits cleanly (STOPPING=1). Exits 1 without READY=1 when provisioning failed, so systemd shows it.
/// </summary>
/// <remarks>
/// Provisioning and the Ready report run in this process, first thing (nothing on the way to Ready but the work
/// itself). Once Ready is reported and systemd told, latchd re-executes itself as <c>latchd run --after-ready</c>:
/// same pid (systemd's main process), a fresh image that never loaded what only provisioning needs (HTTP, XML,
/// libcrypto), so the long-lived daemon's memory is the key guard's. Hosted by another program (tests), or managing
/// another root, it stays in-process.
/// </remarks>
internal sealed class AgentDaemon(HostSystem system, AgentConfig config, AgentClients clients, SystemdNotifier notifier, TimeProvider time)
{
    /// <summary>The hidden option of the re-executed daemon: Ready was reported and systemd notified.</summary>
    public const string AfterReadyOption = "--after-ready";

    /// <param name="verbose">Passed on to the re-executed image.</param>
    public async Task<int> RunAsync(bool verbose = false, CancellationToken cancellationToken = default)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);

        var skip = config.ProvisioningAgent is "disabled" or "cloud-init";
        int status;
        try
        {
            status = await new Provisioner(system, config, clients, time).ProvisionAsync(skip, stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            Log.Stopping(system.Logger);
            return 0;
        }

        if (status != 0)
        {
            notifier.Notify("STATUS=provisioning failed; see the journal");
            return status;
        }

        notifier.Notify("READY=1\nSTATUS=provisioned; Ready reported");
        Log.DaemonReady(system.Logger, notifier.IsEnabled);
        if (system.IsLiveSystem && !stop.IsCancellationRequested && Environment.ProcessPath is { } self && Path.GetFileName(self) == "latchd")
        {
            // does not return when the kernel takes it
            var errno = Interop.Exec.Replace(self, ["latchd", "run", AfterReadyOption, .. verbose ? new[] { "--verbose" } : []], CurrentEnvironment());
            Log.ReexecFailed(system.Logger, self, Latch.Core.Interop.Posix.Describe(errno));
        }

        return await RunIdleAsync(system, notifier, time, stop.Token).ConfigureAwait(false);

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }

    /// <summary>
    /// <c>latchd run --after-ready</c>, the re-executed image: no configuration, no parser, no clients; only the key
    /// guard until SIGTERM or SIGINT.
    /// </summary>
    public static async Task<int> RunAfterReadyAsync(HostSystem system, SystemdNotifier notifier, TimeProvider time, CancellationToken cancellationToken = default)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        return await RunIdleAsync(system, notifier, time, stop.Token).ConfigureAwait(false);

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }

    /// <summary>After READY=1: the key guard (on a live system) until stopped, trimmed once idle; then STOPPING=1.</summary>
    private static async Task<int> RunIdleAsync(HostSystem system, SystemdNotifier notifier, TimeProvider time, CancellationToken stop)
    {
        try
        {
            // the key guard (file guard, Key Vault pull, control socket) runs for the life of the service on a live system
            var guard = system.IsLiveSystem ? Guard.GuardService.RunInDaemonAsync(system.Logger, time, stop) : Task.Delay(Timeout.Infinite, stop);

            // the guard's first pass over the store runs in its first moments; after that the daemon only waits
            _ = IdleTrim.Start(system.Logger, stop);
            await guard.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        notifier.Notify("STOPPING=1");
        Log.Stopping(system.Logger);
        return 0;
    }

    /// <summary>NAME=VALUE for every variable of this process (NOTIFY_SOCKET among them), for the re-executed image.</summary>
    private static List<string> CurrentEnvironment()
    {
        var environment = new List<string>();
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            environment.Add($"{entry.Key}={entry.Value}");
        }

        return environment;
    }
}
