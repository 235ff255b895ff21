using Latch.Agent.Config;
using Latch.Agent.Os;
using Latch.Core.Keys;

namespace Latch.Agent.Provisioning;

/// <summary>Turns provisioning data into a <see cref="ProvisioningPlan"/>, refusing bad input before anything changes.</summary>
internal static class PlanBuilder
{
    public const string DefaultKeysFile = ".ssh/authorized_keys";

    private static readonly KeyValidationOptions s_keyPolicy = new() { AllowOptions = false, AllowCertificates = false, MinimumRsaBits = 2048 };

    public static ProvisioningPlan Build(ProvisioningData data, AgentConfig config, UserDatabase users, ProvisioningState? previous, HostSystem system)
    {
        var notes = new List<string>();
        if (NameRules.CheckUserName(data.UserName) is { } userProblem)
        {
            throw new ProvisioningException("user", "InvalidUserName", userProblem);
        }

        if (NameRules.CheckHostName(data.HostName) is { } hostProblem)
        {
            throw new ProvisioningException("hostname", "InvalidHostName", hostProblem);
        }

        var existing = users.Find(data.UserName);
        string home;
        if (existing is null)
        {
            home = config.HomeDirectory.TrimEnd('/') + "/" + data.UserName;
            if (LinkStatus(system, home) is { } what)
            {
                throw new ProvisioningException("user", "HomeExists",
                    $"the user '{data.UserName}' does not exist but {home} already exists ({what}); remove or rename it so useradd can create a fresh home");
            }
        }
        else
        {
            if (existing.Uid < users.UidMin)
            {
                throw new ProvisioningException("user", "SystemAccount",
                    $"'{data.UserName}' is an existing system account (uid {existing.Uid} < UID_MIN {users.UidMin}); latchd never turns a system account into the admin user");
            }

            if (previous is { } p && p.UserName == data.UserName && p.Uid != existing.Uid)
            {
                throw new ProvisioningException("user", "UidChanged",
                    $"the user '{data.UserName}' exists with uid {existing.Uid}, but latchd created it with uid {p.Uid} when provisioning VM {p.VmId}; the account was replaced, so latchd will not hand it keys or sudo. Check /etc/passwd, then remove {system.PathOf(config.StateDirectory)}/state.json to accept the new account");
            }

            home = existing.Home;
            if (LinkStatus(system, home) == "a symbolic link")
            {
                throw new ProvisioningException("user", "SymlinkedHome",
                    $"the home {home} of '{data.UserName}' is a symbolic link; latchd writes keys only into a real home directory (replace the link with the directory)");
            }

            notes.Add($"user '{data.UserName}' already exists (uid {existing.Uid}); it is kept as it is, not recreated");
        }

        var keys = ValidateKeys(data, config, home);
        if (keys.Count == 0 && data.Password is null)
        {
            throw new ProvisioningException("keys", "NoCredentials",
                "neither a public key nor a password was supplied, so nobody could log in; give at least one SSH public key");
        }

        var passwordLogin = data.Password is not null && !data.DisablePasswordAuthentication;
        if (data.Password is not null && data.DisablePasswordAuthentication)
        {
            notes.Add("a password was supplied but password authentication is disabled: it is set (for sudo and the console), sshd refuses it");
        }

        notes.Add("publishing the host name to DHCP (waagent's dhclient send host-name) is not done by latchd");
        if (config.ResourceDiskFormat)
        {
            notes.Add("ResourceDisk.Format is set, but latchd does not format or mount the resource disk (not implemented)");
        }

        var sudoers = $"# Written by latchd when provisioning VM {data.VmId}: the admin user may run any command as root.\n" +
            (data.Password is null ? $"{data.UserName} ALL=(ALL) NOPASSWD: ALL\n" : $"{data.UserName} ALL=(ALL) ALL\n");
        var sshd = $"# Written by latchd when provisioning VM {data.VmId}. Delete this file to return to the image's sshd settings.\n" +
            $"PasswordAuthentication {(passwordLogin ? "yes" : "no")}\n" +
            (passwordLogin ? "" : "KbdInteractiveAuthentication no\n") +
            "PermitRootLogin no\n";

        return new ProvisioningPlan(
            data,
            CreateUser: existing is null,
            ExistingUid: existing?.Uid,
            Home: home,
            Password: data.Password is null ? PasswordAction.Lock : PasswordAction.Set,
            PasswordLogin: passwordLogin,
            Keys: keys,
            SudoersPath: config.SudoersDirectory + "/latch-" + data.UserName,
            SudoersContent: sudoers,
            SshdDropInPath: config.SshDirectory + "/sshd_config.d/50-latch.conf",
            SshdDropInContent: sshd,
            RegenerateHostKeys: config.RegenerateSshHostKeyPair,
            HostKeyType: config.SshHostKeyPairType,
            DeleteRootPassword: config.DeleteRootPassword,
            StateDirectory: config.StateDirectory,
            KeyStoreDirectory: config.KeyStoreDirectory,
            Notes: notes);
    }

    private static List<PlannedKey> ValidateKeys(ProvisioningData data, AgentConfig config, string home)
    {
        var keys = new List<PlannedKey>();
        var seen = new HashSet<KeyIdentity>();
        var number = 0;
        foreach (var supplied in data.Keys)
        {
            number++;
            // cloud-init #3825: IMDS keys arrive with CR/LF; a key is one line
            var text = supplied.Text.Replace("\r", "", StringComparison.Ordinal).Trim('\n', ' ');
            if (!KeyValidator.TryValidate(text, s_keyPolicy, out var key, out var error))
            {
                throw new ProvisioningException("keys", "InvalidKey", $"public key #{number} from {supplied.Source} was refused: {error}");
            }

            var relative = ResolveKeyPath(supplied.Path, data.UserName, config.HomeDirectory, home);
            if (seen.Add(key.Identity))
            {
                keys.Add(new PlannedKey(key, supplied.Source, relative));
            }
        }

        return keys;
    }

    /// <summary>
    /// The key file relative to the user's home. <c>$HOME/…</c> and <c>{OS.HomeDir}/{user}/…</c> (what Azure sends) mean
    /// the user's actual home; any other absolute path must lie inside the home, and the result may not leave it.
    /// </summary>
    internal static string ResolveKeyPath(string? path, string user, string homeRoot, string home)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            return DefaultKeysFile;
        }

        var text = path.Trim();
        string? relative = null;
        foreach (var prefix in new[] { "$HOME/", "${HOME}/", "~/", homeRoot.TrimEnd('/') + "/" + user + "/", home.TrimEnd('/') + "/" })
        {
            if (text.StartsWith(prefix, StringComparison.Ordinal))
            {
                relative = text[prefix.Length..];
                break;
            }
        }

        var parts = new List<string>();
        foreach (var part in (relative ?? "").Split('/'))
        {
            switch (part)
            {
                case "" or ".":
                    continue;
                case "..":
                    if (parts.Count == 0)
                    {
                        relative = null;
                    }
                    else
                    {
                        parts.RemoveAt(parts.Count - 1);
                    }

                    continue;
                default:
                    parts.Add(part);
                    continue;
            }
        }

        if (relative is null || parts.Count == 0 || parts.Any(p => p.Contains('\0', StringComparison.Ordinal)))
        {
            throw new ProvisioningException("keys", "KeyPathOutsideHome",
                $"the key path '{NameRules.Printable(text)}' is not inside the home of '{user}' ({home}); latchd writes keys only below the user's home");
        }

        return string.Join('/', parts);
    }

    /// <summary>"a symbolic link", "a directory", "a file", or null when nothing is there (lstat; never follows a link).</summary>
    private static string? LinkStatus(HostSystem system, string path)
    {
        var info = new FileInfo(system.PathOf(path));
        if (info.LinkTarget is not null)
        {
            return "a symbolic link";
        }

        return Directory.Exists(info.FullName) ? "a directory" : info.Exists ? "a file" : null;
    }
}
