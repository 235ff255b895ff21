using Latch.Cli.Azure;
using Latch.Cli.Commands;
using Latch.Cli.Keys;
using Latch.Cli.Ssh;

namespace Latch.Cli.Sync;

/// <summary>
/// <c>latch connect</c>'s key check, started at process start instead of after ARM and Key Vault answer: one BatchMode
/// ssh running the read-only check script (<see cref="SyncMode.Check"/>) as the run's ControlMaster, aimed at the address,
/// user and key the previous connect to this VM used (<c>vms.json</c>). The ARM and Key Vault lookups run meanwhile, as
/// before; the early answer is used only when they resolve to exactly the same address, port, user, ssh options and key
/// (and that key has no private half in Key Vault, which is never cached). Otherwise the early connection is closed and
/// connect checks the usual way. So a stale cache (the VM moved, its IP changed, the key rotated) costs a wasted ssh,
/// never a wrong answer, and the key is still checked on the VM by every connect.
/// What a stale address can reach: the early ssh insists on a host key already in the user's known_hosts
/// (<c>StrictHostKeyChecking=yes</c> ahead of the user's options, so nothing is learned or trusted anew), and it only
/// reads: it never writes a key on the strength of the cache. A host whose key is not known yet is not checked early;
/// after such a refusal the VM's entry rests for <see cref="RestAfterHostKeyRefusal"/>.
/// </summary>
internal sealed class EarlyCheck : IAsyncDisposable
{
    /// <summary>How long a VM whose host key the early check could not verify is checked the usual way only.</summary>
    public static readonly TimeSpan RestAfterHostKeyRefusal = TimeSpan.FromHours(1);

    private readonly CliContext _cli;
    private readonly CancellationTokenSource _stop = new();
    private readonly long _started;
    private Task<SshRunResult> _run = Task.FromResult(new SshRunResult(255, "", "not started", false));
    private bool _adopted;

    private EarlyCheck(CliContext cli, SshTarget target, string keyLine, SshControl control, long started)
    {
        _cli = cli;
        Target = target;
        KeyLine = keyLine;
        Control = control;
        _started = started;
    }

    /// <summary>Where the early ssh went (without the master options).</summary>
    public SshTarget Target { get; }

    public string KeyLine { get; }

    /// <summary>The master connection: the exec'd ssh's session uses it when the answer is adopted.</summary>
    public SshControl Control { get; }

    /// <summary>Whether the early ssh was refused for an unknown or changed host key (see <see cref="RestAfterHostKeyRefusal"/>).</summary>
    public bool HostKeyRefused { get; private set; }

    /// <summary>
    /// Starts the early check when the cache has a usable entry for <paramref name="vm"/>; null otherwise (first connect,
    /// a Key Vault private key last time, a host key refusal within the rest period, no socket directory).
    /// </summary>
    public static EarlyCheck? TryStart(CliContext cli, string vm, string? resourceGroup, string? userFlag, KeySource keys, IReadOnlyList<string> sshOptions, TimeSpan timeout)
    {
        var started = cli.Time.GetTimestamp();
        var entries = VmResolver.LoadCache(cli).Where(v => string.Equals(v.Name, vm, StringComparison.OrdinalIgnoreCase)
            && (resourceGroup is null || string.Equals(v.ResourceGroup, resourceGroup, StringComparison.OrdinalIgnoreCase))).ToList();
        if (entries is not [{ SshHost: { Length: > 0 } host, KeyLine: { Length: > 0 } keyLine } entry])
        {
            return null;
        }

        if (entry.EarlyCheckRestsUntil is { } until && until > cli.Time.GetUtcNow())
        {
            cli.Detail($"{vm}: no early key check until {until:u} (the host key of {host} was not in known_hosts)");
            return null;
        }

        string? identityFile = entry.IdentityFile;
        if (entry.KeyFromVault != true)
        {
            // a local key is read afresh: it is the key a connect without a Key Vault secret uses
            KeyMaterial local;
            try
            {
                local = keys.GetLocal();
            }
            catch (CliException)
            {
                return null;
            }

            if (local.PublicLine != keyLine || local.IdentityFile != identityFile)
            {
                return null;
            }
        }

        var user = CommandRunner.User(cli, userFlag, vm, entry.AdminUsername);
        if (!SyncScript.TryCreate(SyncMode.Check, user, keyLine, null, Math.Clamp((int)timeout.TotalSeconds / 2, 1, 60), out var script, out _)
            || SshControl.ForThisRun(cli, "e") is not { } control)
        {
            return null;
        }

        var target = new SshTarget(host, CommandRunner.Port(cli), user, identityFile, sshOptions);
        var check = new EarlyCheck(cli, target, keyLine, control, started);
        // the user's options come after ours: ssh takes an option's first value, so StrictHostKeyChecking=yes holds
        var early = target with { UserOptions = [.. control.MasterOptions, "-o", "StrictHostKeyChecking=yes", .. sshOptions] };
        var runner = new SshRunner(cli.SshProgram, cli.Time);
        // called directly, not through Task.Run: ssh is started on this thread before the ARM requests (no pool thread to wake)
        check._run = runner.RunAsync(early, ["bash", "-s"], script, timeout, KeySyncer.AutoProbeTimeout, check._stop.Token);
        cli.Detail($"{vm}: early key check over ssh to {user}@{host}:{target.Port} (the last connect's address; used only if ARM still gives it)");
        return check;
    }

    /// <summary>
    /// The early answer when <paramref name="target"/> and <paramref name="key"/> (resolved through ARM and Key Vault) are
    /// exactly what it checked and the key was present; null after closing the early connection otherwise.
    /// </summary>
    public async Task<(SyncOutcome Outcome, TimeSpan Duration)?> AdoptAsync(SshTarget target, KeyMaterial key, CancellationToken cancellationToken = default)
    {
        var same = target.Host == Target.Host && target.Port == Target.Port && target.User == Target.User
            && target.IdentityPath == Target.IdentityPath && target.UserOptions.SequenceEqual(Target.UserOptions)
            && key.PrivateKey is null && key.PublicLine == KeyLine;
        if (!same)
        {
            _cli.Detail($"early key check not used: ARM and Key Vault resolved {target.Destination}:{target.Port} with key {key.Fingerprint}, it checked {Target.Destination}:{Target.Port}");
            await DiscardAsync().ConfigureAwait(false);
            return null;
        }

        SshRunResult run;
        try
        {
            run = await _run.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (CliException e)
        {
            _cli.Detail($"early key check failed: {e.Message}");
            return null;
        }

        var outcome = run.ExitCode == 255 || run.TimedOut ? null : SyncOutcome.Parse(run.Stdout, run.ExitCode, run.Stderr);
        if (outcome is not { State: SyncState.Present })
        {
            HostKeyRefused = run.Stderr.Contains("Host key verification failed", StringComparison.Ordinal);
            _cli.Detail($"early key check: {(outcome is null ? run.Describe() : outcome.State.ToString().ToLowerInvariant())}; checking the usual way");
            await DiscardAsync().ConfigureAwait(false);
            return null;
        }

        _adopted = true;
        return (outcome, _cli.Time.GetElapsedTime(_started));
    }

    private async Task DiscardAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _run.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or CliException)
        {
            // stopped, or ssh could not run: nothing to close
        }

        await Control.CloseAsync(_cli.SshProgram).ConfigureAwait(false);
    }

    /// <summary>Disposes <paramref name="check"/> when there is one (for <c>await using</c> with ConfigureAwait).</summary>
    public static IAsyncDisposable Scope(EarlyCheck? check) => check ?? (IAsyncDisposable)Stream.Null;

    public async ValueTask DisposeAsync()
    {
        if (!_adopted)
        {
            await DiscardAsync().ConfigureAwait(false);
        }

        _stop.Dispose();
    }
}
