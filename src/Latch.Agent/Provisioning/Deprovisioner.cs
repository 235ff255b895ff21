using Latch.Agent.Config;
using Latch.Agent.Os;
using Latch.Core.Files;

namespace Latch.Agent.Provisioning;

/// <summary>
/// <c>latchd deprovision [--user] [--force]</c>, waagent -deprovision's equivalent before capturing an image: SSH host
/// keys, latchd's marker and state, the provisioned keys in the key guard's store, the host name, DHCP leases; with <c>--user</c> also the provisioned user (userdel -r)
/// and its sudoers drop-in. Asks for confirmation unless <c>--force</c>; without a terminal to ask on it refuses.
/// </summary>
internal sealed class Deprovisioner(HostSystem system, AgentConfig config)
{
    private static readonly string[] s_leaseGlobs =
    [
        "/var/lib/dhcp/dhclient*.leases", "/var/lib/dhcp/*.leases", "/var/lib/dhclient/*.leases",
        "/var/lib/NetworkManager/*.lease", "/run/systemd/netif/leases/*",
    ];

    public async Task<int> RunAsync(bool user, bool force, TextReader input, TextWriter output, CancellationToken cancellationToken = default)
    {
        var state = new StateStore(system, config.StateDirectory);
        var recorded = state.ReadState();
        var files = new List<string>();
        files.AddRange(Glob(config.SshDirectory + "/ssh_host_*key*"));
        files.AddRange(new[] { state.MarkerPath, state.StatePath, state.Directory + "/ovf-env.xml" }.Where(f => File.Exists(system.PathOf(f))));
        files.AddRange(Glob(state.Directory + "/managed-keys/*"));
        foreach (var glob in s_leaseGlobs)
        {
            files.AddRange(Glob(glob));
        }

        var provisioned = new ProvisionedKeys(system, config.KeyStoreDirectory);
        var stores = provisioned.Holding();
        string? userName = null;
        if (user)
        {
            userName = recorded?.UserName;
            if (userName is null)
            {
                await output.WriteLineAsync($"latchd: --user: no provisioned user is recorded in {system.PathOf(state.StatePath)}; nothing to delete for --user").ConfigureAwait(false);
            }
            else
            {
                files.Add(config.SudoersDirectory + "/latch-" + userName);
            }
        }

        await output.WriteLineAsync("latchd deprovision will:").ConfigureAwait(false);
        foreach (var file in files.Distinct())
        {
            await output.WriteLineAsync("  delete " + file).ConfigureAwait(false);
        }

        foreach (var (storeUser, document) in stores)
        {
            var count = document.Keys.Count(k => k.Source == ProvisionedKeys.Source);
            await output.WriteLineAsync($"  remove {count} provisioned key(s) from the key guard's store {provisioned.PathOf(storeUser)} (authorized_keys is left as it is)").ConfigureAwait(false);
        }

        await output.WriteLineAsync("  set the host name to 'localhost' (/etc/hostname)").ConfigureAwait(false);
        if (userName is not null)
        {
            await output.WriteLineAsync($"  delete the user '{userName}' and its home (userdel -r)").ConfigureAwait(false);
        }

        if (!force)
        {
            await output.WriteAsync("This makes the machine unusable until it is provisioned again. Continue? [y/N] ").ConfigureAwait(false);
            await output.FlushAsync(cancellationToken).ConfigureAwait(false);
            var answer = await input.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            if (answer is null)
            {
                await output.WriteLineAsync("\nlatchd: no answer on standard input; nothing was changed. Run with --force to deprovision without asking.").ConfigureAwait(false);
                return 1;
            }

            if (answer.Trim().ToLowerInvariant() is not ("y" or "yes"))
            {
                await output.WriteLineAsync("latchd: not confirmed; nothing was changed.").ConfigureAwait(false);
                return 1;
            }
        }

        if (userName is not null)
        {
            var deleted = await new Accounts(system).DeleteUserAsync(userName, cancellationToken).ConfigureAwait(false);
            if (!deleted.Succeeded)
            {
                await output.WriteLineAsync($"latchd: userdel -r {userName} exited with {deleted.ExitCode}: {deleted.Output}").ConfigureAwait(false);
                return 1;
            }
        }

        foreach (var file in files.Distinct())
        {
            File.Delete(system.PathOf(file));
        }

        // an image captured now must not hand this VM's admin key to every VM made from it
        provisioned.Forget(cancellationToken);

        if (system.IsLiveSystem)
        {
            _ = Interop.Libc.SetHostName("localhost");
        }

        SafeFile.WriteSystemFile(system.PathOf("/etc/hostname"), "localhost\n"u8, 0b110_100_100, cancellationToken);
        await output.WriteLineAsync("latchd: deprovisioned; the next start provisions this machine again.").ConfigureAwait(false);
        return 0;
    }

    /// <summary>Files matching a pattern whose last component has '*' (no recursion), as paths of the managed system.</summary>
    private List<string> Glob(string pattern)
    {
        var directory = pattern[..pattern.LastIndexOf('/')];
        var host = system.PathOf(directory);
        if (!Directory.Exists(host))
        {
            return [];
        }

        return [.. Directory.EnumerateFiles(host, pattern[(pattern.LastIndexOf('/') + 1)..]).Order(StringComparer.Ordinal).Select(f => directory + "/" + Path.GetFileName(f))];
    }
}
