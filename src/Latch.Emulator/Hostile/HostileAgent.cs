using System.Diagnostics;
using Latch.Emulator.Interop;
using Latch.Emulator.State;
using Microsoft.Extensions.Logging;

namespace Latch.Emulator.Hostile;

/// <summary>What a hostile agent run does: the single key it writes, how often, and at most how many times.</summary>
public sealed record HostileAgentOptions(string Key, int IntervalMs, int MaxRewrites = HostileAgent.DefaultMaxRewrites)
{
    public string? Validate()
    {
        if (IntervalMs is < 10 or > 3_600_000)
        {
            return "intervalMs must be between 10 and 3600000";
        }

        if (MaxRewrites is < 1 or > 1_000_000)
        {
            return "maxRewrites must be between 1 and 1000000";
        }

        var parts = Key.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length < 2 || !(parts[0].StartsWith("ssh-", StringComparison.Ordinal) || parts[0].StartsWith("ecdsa-", StringComparison.Ordinal) || parts[0].StartsWith("sk-", StringComparison.Ordinal))
            || Key.Contains('\n', StringComparison.Ordinal) || Key.Contains('\'', StringComparison.Ordinal)
            ? "key must be one OpenSSH public key line ('ssh-ed25519 AAAA... comment')"
            : null;
    }
}

/// <summary>The state of a hostile agent, as the control API reports it.</summary>
public sealed record HostileAgentStatus(string Vm, string Target, string Mode, int IntervalMs, int MaxRewrites, int Rewrites, bool Running);

/// <summary>
/// Overwrites a VM's authorized_keys with one other key every interval, the way provisioning agents do:
/// alternately truncate-and-write in place (waagent/azure-init style) and write-a-new-file-then-rename-over
/// (keeping owner and mode). On the host file when the VM has AuthorizedKeysHostPath, else through the VM's Exec
/// prefix as a bounded shell loop. Stops after MaxRewrites, on <see cref="StopAsync"/>, or on emulator shutdown.
/// </summary>
public sealed class HostileAgent : IAsyncDisposable
{
    public const int DefaultMaxRewrites = 10_000;

    private const string LoopScript = """
        key="$1"; f="$2"; n="$3"; s="$4"; i=0
        while [ "$i" -lt "$n" ]; do
          if [ $((i % 2)) -eq 0 ]; then
            printf '%s\n' "$key" > "$f"
          else
            printf '%s\n' "$key" > "$f.latch-hostile"
            chown --reference="$f" "$f.latch-hostile" 2>/dev/null; chmod --reference="$f" "$f.latch-hostile" 2>/dev/null
            mv -f "$f.latch-hostile" "$f"
          fi
          i=$((i + 1)); echo "rewrite $i"; sleep "$s"
        done
        """;

    private readonly CancellationTokenSource _stop = new();
    private readonly VmState _vm;
    private readonly HostileAgentOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _target;
    private readonly bool _exec;
    private Task _run = Task.CompletedTask;
    private int _rewrites;
    private volatile bool _running;

    private HostileAgent(VmState vm, HostileAgentOptions options, TimeProvider time, ILogger logger, string target, bool exec)
    {
        _vm = vm;
        _options = options;
        _time = time;
        _logger = logger;
        _target = target;
        _exec = exec;
    }

    public int Rewrites => Volatile.Read(ref _rewrites);

    public HostileAgentStatus Status => new(_vm.Name, _target, _exec ? "exec" : "host", _options.IntervalMs, _options.MaxRewrites, Rewrites, _running);

    internal static HostileAgent Start(VmState vm, HostileAgentOptions options, TimeProvider time, ILogger logger)
    {
        var definition = vm.Definition;
        HostileAgent agent;
        if (definition.AuthorizedKeysHostPath is { } hostPath)
        {
            agent = new HostileAgent(vm, options, time, logger, hostPath, exec: false);
        }
        else if (definition.Exec.Count > 0)
        {
            var inVm = vm.PublicKeys.Select(k => k.Path).FirstOrDefault(p => p.StartsWith('/') && p.Contains("/.ssh/", StringComparison.Ordinal))
                ?? $"/home/{definition.AdminUsername}/.ssh/authorized_keys";
            agent = new HostileAgent(vm, options, time, logger, inVm, exec: true);
        }
        else
        {
            throw new InvalidOperationException($"VM '{vm.Name}' has neither authorized_keys_host_path nor exec in the scenario; set one so the hostile agent knows where to write.");
        }

        agent._running = true;
        Log.HostileStarted(logger, vm.Name, options.IntervalMs, options.MaxRewrites, agent._target);
        agent._run = agent._exec ? Task.Run(agent.RunInVmAsync) : Task.Run(agent.RunOnHostAsync);
        return agent;
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _run.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // stopping is the expected end
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    /// <summary>Waits until at least <paramref name="count"/> rewrites happened or the agent stopped.</summary>
    public async Task WaitForRewritesAsync(int count, CancellationToken cancellationToken = default)
    {
        while (Rewrites < count && _running)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(5), cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task RunOnHostAsync()
    {
        try
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(_options.IntervalMs), _time);
            var line = _options.Key.Trim() + "\n";
            for (var i = 0; i < _options.MaxRewrites; i++)
            {
                try
                {
                    if (i % 2 == 0)
                    {
                        // truncate and write in place, following symlinks, as File::create / open("w") do
                        await File.WriteAllTextAsync(_target, line, _stop.Token).ConfigureAwait(false);
                    }
                    else
                    {
                        await RenameOverAsync(line).ConfigureAwait(false);
                    }

                    Interlocked.Increment(ref _rewrites);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    Log.HostileFailed(_logger, _vm.Name, _target, e.Message);
                }

                if (!await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            _running = false;
            Log.HostileStopped(_logger, _vm.Name, Rewrites);
        }
    }

    private async Task RenameOverAsync(string line)
    {
        var temporary = _target + ".latch-hostile";
        var owner = Libc.Owner(_target);
        var mode = File.Exists(_target) ? File.GetUnixFileMode(_target) : UnixFileMode.UserRead | UnixFileMode.UserWrite;
        await File.WriteAllTextAsync(temporary, line, _stop.Token).ConfigureAwait(false);
        File.SetUnixFileMode(temporary, mode);
        if (owner is { } o)
        {
            Libc.SetOwner(temporary, o.Uid, o.Gid);
        }

        File.Move(temporary, _target, overwrite: true);
    }

    private async Task RunInVmAsync()
    {
        var start = new ProcessStartInfo(_vm.Definition.Exec[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in _vm.Definition.Exec.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var argument in new[]
        {
            "/bin/sh", "-c", LoopScript, "latch-hostile", _options.Key.Trim(), _target,
            _options.MaxRewrites.ToString(System.Globalization.CultureInfo.InvariantCulture),
            (_options.IntervalMs / 1000.0).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture),
        })
        {
            start.ArgumentList.Add(argument);
        }

        Process? process = null;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("could not start the hostile loop");
            var stderr = process.StandardError.ReadToEndAsync(_stop.Token);
            while (await process.StandardOutput.ReadLineAsync(_stop.Token).ConfigureAwait(false) is { } output)
            {
                if (output.StartsWith("rewrite ", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref _rewrites);
                }
            }

            await process.WaitForExitAsync(_stop.Token).ConfigureAwait(false);
            if (process.ExitCode != 0)
            {
                Log.HostileFailed(_logger, _vm.Name, _target, (await stderr.ConfigureAwait(false)).Trim());
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            Log.HostileFailed(_logger, _vm.Name, _target, e.Message);
        }
        finally
        {
            if (process is { HasExited: false })
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            }

            process?.Dispose();
            _running = false;
            Log.HostileStopped(_logger, _vm.Name, Rewrites);
        }
    }
}
