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
/// libcrypto), so the long-lived daemon's memory is the key guard's; the small latchd-guard image when it ships next
/// to latchd (see <see cref="AfterReady"/>). Hosted by another program (tests), or managing another root, it stays
/// in-process.
/// </remarks>
internal sealed class AgentDaemon(HostSystem system, AgentConfig config, AgentClients clients, SystemdNotifier notifier, TimeProvider time)
{
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
            foreach (var image in AfterReady.Images(self))
            {
                // does not return when the kernel takes it
                AfterReady.Replace(image, verbose, system.Logger);
            }
        }

        return await AfterReady.RunIdleAsync(system.Logger, system.IsLiveSystem, notifier, time, stop.Token).ConfigureAwait(false);

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }
}
