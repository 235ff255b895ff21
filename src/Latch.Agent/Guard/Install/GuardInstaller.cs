using System.Text;
using Latch.Core.Files;

namespace Latch.Agent.Guard.Install;

/// <summary>
/// <c>latchd guard install|uninstall</c>: the sshd drop-in that makes sshd ask latchd for managed keys, its dedicated
/// unprivileged user, and (with --quiet-others) reversible settings that stop cloud-init and waagent from writing keys.
/// Every change to sshd is validated with <c>sshd -t</c> and confirmed with <c>sshd -T</c>, and rolled back when either fails.
/// </summary>
internal sealed class GuardInstaller(GuardLayout layout, TextWriter output)
{
    private const int DropInMode = 0b110_100_100;

    public async Task<int> InstallAsync(bool quietOthers, CancellationToken cancellationToken = default)
    {
        if (TrustedBinary.Problem(layout.Binary) is { } binaryProblem)
        {
            return Refuse($"cannot install the AuthorizedKeysCommand: {binaryProblem}");
        }

        var before = await EffectiveAsync(cancellationToken).ConfigureAwait(false);
        if (before.Error is { } sshdError)
        {
            return Refuse($"sshd's current configuration does not pass 'sshd -T', so nothing was changed: {sshdError}");
        }

        var existing = File.Exists(layout.DropInPath) ? File.ReadAllBytes(layout.DropInPath) : null;
        var ours = existing is not null && Encoding.UTF8.GetString(existing) == layout.DropInText;
        if (before.Command is { } command && command != "none" && !ours)
        {
            var where = SshdConfigScan.FindCommands(layout).Where(s => s.File != layout.DropInPath).Select(s => $"{s.File}:{s.Line}").ToList();
            return Refuse($"sshd already uses AuthorizedKeysCommand {command}" + (where.Count > 0 ? $" (set in {string.Join(", ", where)})" : "")
                + "; sshd runs only the first one it reads, so Latch's would never be asked. Remove that setting (or uninstall its tool) and run 'latchd guard install' again.");
        }

        if (await EnsureUserAsync(cancellationToken).ConfigureAwait(false) is { } userProblem)
        {
            return Refuse(userProblem);
        }

        EnsureStoreDirectory();
        if (!ours)
        {
            if (!Directory.Exists(layout.SshdConfigDir))
            {
                return Refuse($"{layout.SshdConfigDir} does not exist; create it and add 'Include {layout.SshdConfigDir}/*.conf' at the top of {layout.SshdConfig}, then run 'latchd guard install' again.");
            }

            SafeFile.WriteSystemFile(layout.DropInPath, Encoding.UTF8.GetBytes(layout.DropInText), DropInMode, cancellationToken);
            var check = await HostCommand.RunAsync([layout.Sshd, "-t"], cancellationToken: cancellationToken).ConfigureAwait(false);
            var after = check.Succeeded ? await EffectiveAsync(cancellationToken).ConfigureAwait(false) : default;
            string? problem = !check.Succeeded
                ? $"'sshd -t' rejected the configuration with {layout.DropInPath}: {check.Stderr.Trim()}"
                : after.Command != layout.CommandLine
                    ? $"after writing {layout.DropInPath}, sshd's effective AuthorizedKeysCommand is '{after.Command ?? after.Error}', not Latch's: {layout.SshdConfig} must 'Include {layout.SshdConfigDir}/*.conf' before any AuthorizedKeysCommand"
                    : after.CommandUser != layout.AkcUser
                        ? $"after writing {layout.DropInPath}, sshd's AuthorizedKeysCommandUser is '{after.CommandUser}', not {layout.AkcUser}: another file sets it first"
                        : null;
            if (problem is not null)
            {
                RollBack(existing, cancellationToken);
                return Refuse(problem + $"; {layout.DropInPath} was rolled back and sshd was not reloaded.");
            }

            if (await ReloadSshdAsync(cancellationToken).ConfigureAwait(false) is { } reloadProblem)
            {
                output.WriteLine($"warning: {reloadProblem}");
            }

            output.WriteLine($"installed {layout.DropInPath}: AuthorizedKeysCommand {layout.CommandLine} as {layout.AkcUser}; sshd reloaded");
        }
        else
        {
            output.WriteLine($"{layout.DropInPath} is already installed and active");
        }

        if (quietOthers)
        {
            new QuietOthers(layout, output).Apply(cancellationToken);
        }

        return 0;
    }

    public async Task<int> UninstallAsync(CancellationToken cancellationToken = default)
    {
        var status = 0;
        if (File.Exists(layout.DropInPath))
        {
            var previous = File.ReadAllBytes(layout.DropInPath);
            File.Delete(layout.DropInPath);
            var check = await HostCommand.RunAsync([layout.Sshd, "-t"], cancellationToken: cancellationToken).ConfigureAwait(false);
            if (!check.Succeeded)
            {
                RollBack(previous, cancellationToken);
                output.WriteLine($"latchd: 'sshd -t' fails without {layout.DropInPath} ({check.Stderr.Trim()}); it was put back. Fix the configuration and retry.");
                return 1;
            }

            if (await ReloadSshdAsync(cancellationToken).ConfigureAwait(false) is { } reloadProblem)
            {
                output.WriteLine($"warning: {reloadProblem}");
            }

            output.WriteLine($"removed {layout.DropInPath}; sshd reloaded (users' own authorized_keys files are untouched)");
        }
        else
        {
            output.WriteLine($"{layout.DropInPath} is not installed");
        }

        if (!new QuietOthers(layout, output).Restore(cancellationToken))
        {
            status = 1;
        }

        return status;
    }

    internal readonly record struct Effective(string? Command, string? CommandUser, string? Error);

    internal async Task<Effective> EffectiveAsync(CancellationToken cancellationToken)
    {
        var result = await HostCommand.RunAsync([layout.Sshd, "-T"], cancellationToken: cancellationToken).ConfigureAwait(false);
        return result.Succeeded
            ? new Effective(SshdConfigScan.Effective(result.Stdout, "authorizedkeyscommand"), SshdConfigScan.Effective(result.Stdout, "authorizedkeyscommanduser"), null)
            : new Effective(null, null, result.Stderr.Trim() is { Length: > 0 } e ? e : $"sshd -T exited with {result.ExitCode}");
    }

    private void RollBack(byte[]? previous, CancellationToken cancellationToken)
    {
        if (previous is null)
        {
            File.Delete(layout.DropInPath);
        }
        else
        {
            SafeFile.WriteSystemFile(layout.DropInPath, previous, DropInMode, cancellationToken);
        }
    }

    private async Task<string?> EnsureUserAsync(CancellationToken cancellationToken)
    {
        if ((await HostCommand.RunAsync(["getent", "passwd", layout.AkcUser], cancellationToken: cancellationToken).ConfigureAwait(false)).Succeeded)
        {
            return null;
        }

        var created = await HostCommand.RunAsync(
            ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", layout.AkcUser],
            cancellationToken: cancellationToken).ConfigureAwait(false);
        if (!created.Succeeded)
        {
            return $"could not create the AuthorizedKeysCommandUser {layout.AkcUser} with useradd: {created.Stderr.Trim()}";
        }

        output.WriteLine($"created the system user {layout.AkcUser} (no home, no login shell) to run the AuthorizedKeysCommand");
        return null;
    }

    private void EnsureStoreDirectory()
    {
        const UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        Directory.CreateDirectory(layout.StoreDir, mode);
    }

    /// <summary>sshd re-reads its configuration on SIGHUP; systemd's reload does the same through the unit.</summary>
    private async Task<string?> ReloadSshdAsync(CancellationToken cancellationToken)
    {
        if (File.Exists(layout.SshdPidFile) && int.TryParse(File.ReadAllText(layout.SshdPidFile).Trim(), out var pid) && pid > 1)
        {
            var written = File.GetLastWriteTimeUtc(layout.SshdPidFile);
            var hup = await HostCommand.RunAsync(["kill", "-HUP", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)], cancellationToken: cancellationToken).ConfigureAwait(false);
            if (!hup.Succeeded)
            {
                return $"could not send SIGHUP to sshd (pid {pid}): {hup.Stderr.Trim()}; reload sshd yourself";
            }

            // sshd re-executes itself on SIGHUP and rewrites its pid file once it listens again: until then a
            // connection is refused, so return only when it is back (or say that it is not)
            for (var waited = 0; waited < 200; waited++)
            {
                if (File.Exists(layout.SshdPidFile) && File.GetLastWriteTimeUtc(layout.SshdPidFile) != written)
                {
                    return null;
                }

                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
            }

            return $"sshd (pid {pid}) did not confirm the reload within 10 s; check it with 'sshd -t' and its log";
        }

        foreach (var unit in new[] { "ssh", "sshd" })
        {
            if ((await HostCommand.RunAsync(["systemctl", "reload", unit], cancellationToken: cancellationToken).ConfigureAwait(false)).Succeeded)
            {
                return null;
            }
        }

        return "sshd is not running (no pid file, no systemd unit reloaded); the setting takes effect when sshd starts";
    }

    private int Refuse(string message)
    {
        output.WriteLine("latchd: " + message);
        return 1;
    }
}
