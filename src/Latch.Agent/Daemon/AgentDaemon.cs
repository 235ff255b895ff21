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
/// Provisioning (and the Ready report) runs in a child <c>latchd provision</c> with the same global options, so the
/// long-lived daemon never loads what only provisioning needs (HTTP, XML, libcrypto for the password hash and host key
/// thumbprint): its idle memory is the key guard's. Hosted by another program (tests), it runs in-process.
/// </remarks>
internal sealed class AgentDaemon(HostSystem system, AgentConfig config, AgentClients clients, SystemdNotifier notifier, TimeProvider time, IReadOnlyList<string> globalArguments)
{
    private static readonly TimeSpan s_trimAfter = TimeSpan.FromSeconds(3);

    public async Task<int> RunAsync(CancellationToken cancellationToken = default)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);

        var skip = config.ProvisioningAgent is "disabled" or "cloud-init";
        int status;
        try
        {
            status = Environment.ProcessPath is { } self && Path.GetFileName(self) == "latchd"
                ? await ProvisionInChildAsync(self, skip, stop.Token).ConfigureAwait(false)
                : await new Provisioner(system, config, clients, time).ProvisionAsync(skip, stop.Token).ConfigureAwait(false);
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
            var guard = system.IsLiveSystem ? Guard.GuardService.RunInDaemonAsync(system.Logger, time, stop.Token) : Task.Delay(Timeout.Infinite, stop.Token);

            // the guard's first pass over the store runs in its first moments; after that the daemon only waits
            await Task.WhenAny(guard, Task.Delay(s_trimAfter, time, stop.Token)).ConfigureAwait(false);
            if (!guard.IsCompleted)
            {
                var (before, after) = IdleTrim.Run();
                Log.IdleTrimmed(system.Logger, before / 1024.0, after / 1024.0);
            }

            await guard.ConfigureAwait(false);
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

    /// <summary>Runs <c>latchd provision [--ready-only] GLOBALS</c>, its output going where the daemon's goes; SIGTERM stops it.</summary>
    private async Task<int> ProvisionInChildAsync(string self, bool readyOnly, CancellationToken cancellationToken)
    {
        var start = new System.Diagnostics.ProcessStartInfo(self) { UseShellExecute = false };
        start.ArgumentList.Add("provision");
        if (readyOnly)
        {
            start.ArgumentList.Add("--ready-only");
        }

        foreach (var argument in globalArguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var child = System.Diagnostics.Process.Start(start)!;
        try
        {
            await child.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _ = Interop.Libc.Kill(child.Id, 15);
            await child.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        return child.ExitCode;
    }
}
