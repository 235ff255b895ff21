using Latch.Azure;
using Latch.Cli.Azure;
using Latch.Cli.Keys;
using Latch.Cli.Ssh;

namespace Latch.Cli.Sync;

/// <summary>A VM to sync: its ARM id (for run-command) and, when known, how to reach it over SSH.</summary>
internal sealed record SyncTarget(string VmName, string? ResourceGroup, string VmId, string User, SshTarget? Ssh);

/// <summary>How one sync went, with advice when it did not.</summary>
internal sealed record SyncResult(string Vm, SyncState State, string Method, TimeSpan Duration, string? Error, string? Advice)
{
    /// <summary>A dry run reports what it would do; it has nothing to fail.</summary>
    public bool DryRun { get; init; }

    public bool Succeeded => State is SyncState.Present or SyncState.Appended or SyncState.Removed or SyncState.Absent || (State == SyncState.Missing && (Method == "skip" || DryRun));

    public string StateName => State.ToString().ToLowerInvariant();
}

/// <summary>
/// Puts a key into a VM's authorized_keys in ONE round trip: one run-command (the script checks and appends
/// under the .ssh directory lock) or one BatchMode ssh session running the same script. <c>auto</c> tries ssh
/// first when sshd answers (a fraction of a second when the key already works) and falls back to run-command
/// (tens of seconds on Azure). Every attempt is audited.
/// </summary>
internal sealed class KeySyncer(CliContext cli, AzureSession? azure, AuditLog audit)
{
    public const string Auto = "auto", Agent = "agent", RunCommand = "run-command", Ssh = "ssh", Skip = "skip";

    public async Task<SyncResult> SyncAsync(SyncTarget target, KeyMaterial key, string method, TimeSpan timeout, bool dryRun, string command, CancellationToken cancellationToken = default)
    {
        var started = cli.Time.GetTimestamp();
        SyncResult result;
        if (method == Skip)
        {
            result = new SyncResult(target.VmName, SyncState.Missing, Skip, TimeSpan.Zero, null, null);
        }
        else if (!SyncScript.TryCreate(method == Agent ? SyncMode.Agent : SyncMode.Ensure, target.User, key.PublicLine, null, LockSeconds(timeout), out var script, out var problem))
        {
            result = new SyncResult(target.VmName, SyncState.Failed, method, TimeSpan.Zero, problem, "fix the user name or key and retry");
        }
        else if (dryRun)
        {
            var how = method switch
            {
                RunCommand or Agent => $"ARM run-command (RunShellScript) on {target.VmId}",
                Ssh => $"ssh {target.Ssh?.Destination ?? "(no address)"} bash -s",
                _ => $"ssh {target.Ssh?.Destination ?? "(no address)"} bash -s when sshd answers, else ARM run-command on {target.VmId}",
            };
            cli.Info($"dry run: would ensure key {key.Fingerprint} ({key.Origin}) for user '{target.User}' on {target.VmName} via {how}; script: {script.Length} bytes (see 'latch keys script {target.VmName}')");
            result = new SyncResult(target.VmName, SyncState.Missing, method, TimeSpan.Zero, null, null) { DryRun = true };
        }
        else
        {
            result = await RunAsync(target, method, script, timeout, cancellationToken).ConfigureAwait(false);
        }

        result = result with { Duration = cli.Time.GetElapsedTime(started) };
        if (method != Skip)
        {
            audit.Append(new AuditRecord(
                cli.Time.GetUtcNow(), command, target.VmName, target.ResourceGroup,
                Synced: result.State == SyncState.Appended,
                AlreadyPresent: result.State == SyncState.Present,
                Method: result.Method, User: target.User, KeyFingerprint: key.Fingerprint,
                DurationMs: (long)result.Duration.TotalMilliseconds, DryRun: dryRun, Error: result.Error));
        }

        return result;
    }

    /// <summary>Records (audits) a sync whose check already ran elsewhere: connect's early check over ssh.</summary>
    public SyncResult Record(SyncTarget target, KeyMaterial key, SyncState state, string method, TimeSpan duration, string command)
    {
        var result = new SyncResult(target.VmName, state, method, duration, null, null);
        audit.Append(new AuditRecord(
            cli.Time.GetUtcNow(), command, target.VmName, target.ResourceGroup,
            Synced: state == SyncState.Appended,
            AlreadyPresent: state == SyncState.Present,
            Method: method, User: target.User, KeyFingerprint: key.Fingerprint,
            DurationMs: (long)duration.TotalMilliseconds, DryRun: false, Error: null));
        return result;
    }

    /// <summary>Runs any mode's script (check, remove, status) over <paramref name="method"/> and parses its output.</summary>
    public async Task<(SyncOutcome Outcome, string Method, string? Error, string? Advice)> RunScriptAsync(SyncTarget target, string method, string script, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (method is Ssh || (method is Auto && target.Ssh is not null))
        {
            // auto: ssh's own connect (TCP, then sshd's banner) within 3 s is the probe; a VM that is not answering
            // over SSH, or that refuses the key, goes on to run-command
            var viaSsh = await OverSshAsync(target.Ssh!, script, timeout, method is Auto ? AutoProbeTimeout : null, cancellationToken).ConfigureAwait(false);
            if (viaSsh.Outcome is { } o || method == Ssh)
            {
                return (viaSsh.Outcome ?? Failed(viaSsh.Error), Ssh, viaSsh.Error, viaSsh.Advice);
            }

            cli.Detail($"{target.VmName}: ssh did not work ({viaSsh.Error}); trying run-command");
        }

        var viaArm = await OverRunCommandAsync(target, script, timeout, cancellationToken).ConfigureAwait(false);
        return (viaArm.Outcome ?? Failed(viaArm.Error), method == Agent ? Agent : RunCommand, viaArm.Error, viaArm.Advice);
    }

    private static SyncOutcome Failed(string? error) => new(SyncState.Failed, "transport", error, null, null, null);

    private async Task<SyncResult> RunAsync(SyncTarget target, string method, string script, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var (outcome, used, error, advice) = await RunScriptAsync(target, method, script, timeout, cancellationToken).ConfigureAwait(false);
        if (outcome.State == SyncState.Failed)
        {
            return new SyncResult(target.VmName, SyncState.Failed, used, TimeSpan.Zero, error ?? outcome.Message, advice ?? AdviceFor(outcome));
        }

        if (method == Agent && outcome.State == SyncState.Missing)
        {
            return new SyncResult(target.VmName, SyncState.Failed, used, TimeSpan.Zero, "latchd refreshed its keys but this key is not among them",
                $"store the key in Key Vault secret '{cli.SecretName(target.VmName)}' so latchd picks it up, or use --sync-method run-command");
        }

        return new SyncResult(target.VmName, outcome.State, used, TimeSpan.Zero, null, null);
    }

    /// <summary>How long auto gives sshd to accept the connection and send its banner before trying run-command.</summary>
    internal static readonly TimeSpan AutoProbeTimeout = TimeSpan.FromSeconds(3);

    private async Task<(SyncOutcome? Outcome, string? Error, string? Advice)> OverSshAsync(SshTarget ssh, string script, TimeSpan timeout, TimeSpan? connectTimeout, CancellationToken cancellationToken)
    {
        var runner = new SshRunner(cli.SshProgram, cli.Time);
        var run = await runner.RunAsync(ssh, ["bash", "-s"], script, timeout, connectTimeout, cancellationToken).ConfigureAwait(false);
        if (run.ExitCode == 255 || run.TimedOut)
        {
            return (null, run.Describe(), run.AuthenticationFailed
                ? "no key that works yet for ssh; use --sync-method run-command (needs 'Virtual Machine Contributor')"
                : "check the VM is reachable over SSH, or use --sync-method run-command");
        }

        var outcome = SyncOutcome.Parse(run.Stdout, run.ExitCode, run.Stderr);
        return (outcome, outcome.State == SyncState.Failed ? outcome.Message : null, outcome.State == SyncState.Failed ? AdviceFor(outcome) : null);
    }

    private async Task<(SyncOutcome? Outcome, string? Error, string? Advice)> OverRunCommandAsync(SyncTarget target, string script, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (azure is null)
        {
            return (null, "run-command needs Azure access, which is not set up", "sign in to Azure (az login) or use --sync-method ssh");
        }

        var started = cli.Time.GetTimestamp();
        var backoff = TimeSpan.FromMilliseconds(250);
        while (true)
        {
            var left = timeout - cli.Time.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                return (null, $"run-command did not finish within {timeout.TotalSeconds:0} s", "raise --sync-timeout, or use --sync-method ssh");
            }

            try
            {
                var result = await azure.RunCommand.RunShellScriptAsync(target.VmId, [script], null, left, cancellationToken).ConfigureAwait(false);
                var outcome = SyncOutcome.Parse(result.Stdout, result.ExitCode, result.Stderr);
                return (outcome, outcome.State == SyncState.Failed ? outcome.Message : null, outcome.State == SyncState.Failed ? AdviceFor(outcome) : null);
            }
            catch (AzureRequestException e) when (e.Status == 409 && timeout - cli.Time.GetElapsedTime(started) > backoff)
            {
                // Azure runs one run-command per VM at a time: wait for the other one to finish
                cli.Detail($"{target.VmName}: another run-command is in progress; retrying in {backoff.TotalMilliseconds:0} ms");
                await Task.Delay(backoff, cli.Time, cancellationToken).ConfigureAwait(false);
                backoff = backoff * 2 > TimeSpan.FromSeconds(5) ? TimeSpan.FromSeconds(5) : backoff * 2;
            }
            catch (AzureRequestException e)
            {
                return (null, FirstLine(e.Message), AdviceFor(e));
            }
        }
    }

    internal static string AdviceFor(AzureRequestException e)
    {
        var text = (e.ErrorCode ?? "") + " " + e.Message;
        if (e.Status == 403 || text.Contains("AuthorizationFailed", StringComparison.OrdinalIgnoreCase))
        {
            return "permission denied: run-command needs the 'Virtual Machine Contributor' role (Microsoft.Compute/virtualMachines/runCommand/action) on the VM; or use --sync-method ssh";
        }

        if (text.Contains("did not finish within", StringComparison.Ordinal))
        {
            return "timeout: raise --sync-timeout, or use --sync-method ssh";
        }

        if (text.Contains("agent", StringComparison.OrdinalIgnoreCase) || e.ErrorCode is "VMAgentStatusCommunicationError" or "OperationNotAllowed")
        {
            return "the VM agent is not responding: check the VM is running and its agent reports Ready (or use --sync-method ssh)";
        }

        if (e.Status == 409)
        {
            return "another run-command kept the VM busy; retry, or raise --sync-timeout";
        }

        return e.Status == 404 ? "the VM no longer exists; check the name with 'latch vm list'" : "check Azure access and retry, or use --sync-method ssh";
    }

    internal static string AdviceFor(SyncOutcome outcome) => outcome.ErrorKind switch
    {
        "no-user" => "the user does not exist on the VM: pass --user NAME (or set ssh.user), or create the user first",
        "unsafe" => "fix the ownership or symlink on the VM (latch refuses to follow links or write other users' files)",
        "lock-timeout" => "another writer (latchd, another latch) held the .ssh lock; retry",
        "missing-tool" => "install the missing tool on the VM (util-linux, coreutils, gawk/mawk)",
        "no-agent" => "latchd is not installed, or its Key Vault pull failed (see the message; 'latchd guard status' on the VM); use --sync-method run-command",
        "write-failed" => "the VM's disk may be full or read-only; check it",
        "keep-missing" => "the new key is not on the VM; run 'latch keys rotate' again to re-add it",
        _ => "run 'latch keys script VM' and try it by hand to see what fails",
    };

    private static int LockSeconds(TimeSpan timeout) => (int)Math.Clamp(timeout.TotalSeconds / 2, 1, 60);

    private static string FirstLine(string message) => message.Split('\n')[0];
}
