using System.Globalization;
using System.Text.RegularExpressions;
using Latch.Agent.Interop;
using Latch.Agent.Provisioning;
using Latch.Core.Files;

namespace Latch.Agent.Os;

/// <summary>
/// latchd's sshd drop-in: written, checked with <c>sshd -t</c> (rolled back when it fails), its effect read back with
/// <c>sshd -T</c>, then sshd reloaded (systemctl when systemd runs, else SIGHUP to the pid in /run/sshd.pid).
/// </summary>
internal sealed partial class Sshd(HostSystem system, string sshDirectory)
{
    [GeneratedRegex(@"^\s*Include\s+(\S*/)?sshd_config\.d/\*(\.conf)?\s*$", RegexOptions.IgnoreCase | RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex IncludePattern();

    public async Task ApplyAsync(string dropInPath, string content, bool passwordLogin, CancellationToken cancellationToken = default)
    {
        var mainConfig = sshDirectory + "/sshd_config";
        var main = system.TryReadText(mainConfig);
        if (main is null)
        {
            throw new ProvisioningException("sshd", "NoSshdConfig", $"{mainConfig} does not exist; is openssh-server installed?");
        }

        if (!IncludePattern().IsMatch(main))
        {
            Log.SshdIncludeMissing(system.Logger, mainConfig, dropInPath);
        }

        var directory = Path.GetDirectoryName(dropInPath)!;
        if (!Directory.Exists(system.PathOf(directory)))
        {
            Directory.CreateDirectory(system.PathOf(directory));
            File.SetUnixFileMode(system.PathOf(directory), (UnixFileMode)0b111_101_101);
        }

        var previous = system.TryReadText(dropInPath);
        SafeFile.WriteSystemFile(system.PathOf(dropInPath), System.Text.Encoding.UTF8.GetBytes(content), 0b110_100_100, cancellationToken);
        var test = await system.RunAsync(["/usr/sbin/sshd", "-t", "-f", mainConfig], cancellationToken: cancellationToken).ConfigureAwait(false);
        if (!test.Succeeded)
        {
            if (previous is null)
            {
                File.Delete(system.PathOf(dropInPath));
            }
            else
            {
                SafeFile.WriteSystemFile(system.PathOf(dropInPath), System.Text.Encoding.UTF8.GetBytes(previous), 0b110_100_100, cancellationToken);
            }

            throw new ProvisioningException("sshd", "SshdConfigInvalid", $"sshd -t refused the configuration with {dropInPath} (the drop-in was rolled back): {test.Output}");
        }

        // another drop-in read earlier wins over ours (sshd keeps the first value): say so rather than pretend
        var effective = await system.RunAsync(["/usr/sbin/sshd", "-T", "-f", mainConfig], cancellationToken: cancellationToken).ConfigureAwait(false);
        if (effective.Succeeded)
        {
            var wanted = passwordLogin ? "yes" : "no";
            var actual = effective.Stdout.Split('\n').FirstOrDefault(l => l.StartsWith("passwordauthentication ", StringComparison.Ordinal))?.Split(' ')[1].Trim();
            if (actual is not null && actual != wanted)
            {
                Log.SshdSettingOverridden(system.Logger, "PasswordAuthentication", wanted, actual);
            }
        }

        await ReloadAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Makes the running sshd read its configuration and host keys again; a stopped sshd needs nothing.</summary>
    public async Task ReloadAsync(CancellationToken cancellationToken = default)
    {
        if (system.IsLiveSystem && Directory.Exists("/run/systemd/system"))
        {
            var reload = await system.RunAsync(["systemctl", "try-reload-or-restart", "ssh.service"], cancellationToken: cancellationToken).ConfigureAwait(false);
            if (!reload.Succeeded)
            {
                throw new ProvisioningException("sshd", "ReloadFailed", $"systemctl try-reload-or-restart ssh.service exited with {reload.ExitCode}: {reload.Output}");
            }

            Log.SshdReloaded(system.Logger, "systemctl try-reload-or-restart ssh.service");
            return;
        }

        var pidText = system.TryReadText("/run/sshd.pid")?.Trim();
        if (pidText is null || !int.TryParse(pidText, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid <= 1)
        {
            Log.SshdNotRunning(system.Logger);
            return;
        }

        var comm = system.TryReadText($"/proc/{pid}/comm")?.Trim();
        if (comm != "sshd")
        {
            Log.SshdNotRunning(system.Logger);
            return;
        }

        var errno = Libc.Kill(pid, Libc.SIGHUP);
        if (errno != 0)
        {
            throw new ProvisioningException("sshd", "ReloadFailed", $"SIGHUP to sshd (pid {pid}) failed with errno {errno}");
        }

        Log.SshdReloaded(system.Logger, $"SIGHUP to pid {pid}");
    }
}
