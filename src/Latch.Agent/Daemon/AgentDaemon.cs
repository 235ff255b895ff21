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
internal sealed class AgentDaemon(HostSystem system, AgentConfig config, AgentClients clients, SystemdNotifier notifier, TimeProvider time)
{
    public async Task<int> RunAsync(CancellationToken cancellationToken = default)
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
        try
        {
            // the key guard (file guard, Key Vault pull, control socket) runs for the life of the service on a live system
            await (system.IsLiveSystem ? Guard.GuardService.RunInDaemonAsync(system.Logger, time, stop.Token) : Task.Delay(Timeout.Infinite, stop.Token)).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        notifier.Notify("STOPPING=1");
        Log.Stopping(system.Logger);
        return 0;

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }
}
