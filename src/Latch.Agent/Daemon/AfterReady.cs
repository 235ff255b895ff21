using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Latch.Agent.Daemon;

/// <summary>
/// The long-lived half of <c>latchd run</c>, once Ready was reported and systemd told: the key guard (file guard, Key
/// Vault pull, control socket) until SIGTERM or SIGINT, trimmed once idle, then STOPPING=1.
/// </summary>
/// <remarks>
/// <c>latchd run</c> re-executes itself (execve, same pid) as <c>latchd run --after-ready</c>, preferring the small
/// image <c>latchd-guard</c> next to latchd (src/Latch.AgentGuard: this file and the guard's, nothing else). A
/// NativeAOT image holds its type data rehydrated in anonymous memory for its whole life, in proportion to all the code
/// it links; latchd links provisioning, the command line and every client, latchd-guard only what runs here.
/// </remarks>
internal static class AfterReady
{
    /// <summary>The hidden option of the re-executed daemon: Ready was reported and systemd notified.</summary>
    public const string Option = "--after-ready";

    /// <summary>The guard-only image's file name; it ships in latchd's directory.</summary>
    public const string ImageName = "latchd-guard";

    /// <summary>True for <c>run --after-ready [--verbose]</c>, the only command line of the re-executed image.</summary>
    public static bool IsInvocation(IReadOnlyList<string> args, out bool verbose)
    {
        verbose = args is ["run", Option, "--verbose"];
        return verbose || args is ["run", Option];
    }

    /// <summary>
    /// What <c>latchd run</c> at <paramref name="latchdPath"/> tries to execute after Ready, in order: latchd-guard in
    /// the same directory when it is there, then latchd itself (a latchd copied without it still works, only larger).
    /// </summary>
    public static IReadOnlyList<string> Images(string latchdPath)
    {
        var guard = Path.Combine(Path.GetDirectoryName(latchdPath) ?? "/", ImageName);
        return File.Exists(guard) ? [guard, latchdPath] : [latchdPath];
    }

    /// <summary>The argument vector of the re-executed image (argv[0] stays "latchd", so ps shows "latchd run --after-ready").</summary>
    public static IReadOnlyList<string> Arguments(bool verbose) => ["latchd", "run", Option, .. verbose ? new[] { "--verbose" } : []];

    /// <summary>
    /// Replaces this process with <paramref name="image"/> as <c>latchd run --after-ready</c>, with this process's
    /// environment (NOTIFY_SOCKET among it). Does not return when the kernel takes it; otherwise logs why and returns.
    /// </summary>
    public static void Replace(string image, bool verbose, ILogger logger)
    {
        var environment = new List<string>();
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            environment.Add($"{entry.Key}={entry.Value}");
        }

        // execve starts a new VmHWM: this image's peak (provisioning's, for latchd run) is logged before it is gone
        Log.Reexecuting(logger, image, IdleTrim.StatusKb("VmHWM:") / 1024.0);
        var errno = Interop.Exec.Replace(image, Arguments(verbose), environment);
        Log.ReexecFailed(logger, image, Latch.Core.Interop.Posix.Describe(errno));
    }

    /// <summary>The re-executed image's whole life: no configuration beyond the guard's, no parser, no provisioning clients.</summary>
    public static async Task<int> RunAsync(ILogger logger, SystemdNotifier notifier, TimeProvider time, bool verbose = false, CancellationToken cancellationToken = default)
    {
        if (!KeyVaultPull.KeyVaultPuller.IsSupported && KeyVaultPullConfigured() && Environment.ProcessPath is { } self)
        {
            // latchd-guard does not carry the Key Vault client: latchd's own image runs the guard with the pull
            Log.KeyVaultHandOver(logger, ImageName);
            Replace(Path.Combine(Path.GetDirectoryName(self) ?? "/", "latchd"), verbose, logger);
            Log.KeyVaultHandOverFailed(logger, ImageName);
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        return await RunIdleAsync(logger, liveSystem: true, notifier, time, stop.Token).ConfigureAwait(false);

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }

    /// <summary>True when the guard's configuration turns Key Vault pull on; a file the guard cannot read is the guard's to report.</summary>
    private static bool KeyVaultPullConfigured()
    {
        try
        {
            return Guard.GuardConfig.Load(null).KeyVault.VaultUrl is not null;
        }
        catch (Exception e) when (e is Guard.GuardConfigException or IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>After READY=1: the key guard (on a live system) until stopped, trimmed once idle; then STOPPING=1.</summary>
    public static async Task<int> RunIdleAsync(ILogger logger, bool liveSystem, SystemdNotifier notifier, TimeProvider time, CancellationToken stop)
    {
        try
        {
            // the key guard (file guard, Key Vault pull, control socket) runs for the life of the service on a live system
            var guard = liveSystem ? Guard.GuardService.RunInDaemonAsync(logger, time, stop) : Task.Delay(Timeout.Infinite, stop);

            // the guard's first pass over the store runs in its first moments; after that the daemon only waits
            _ = IdleTrim.Start(logger, stop);
            await guard.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        notifier.Notify("STOPPING=1");
        Log.Stopping(logger);
        return 0;
    }
}
