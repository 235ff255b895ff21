using System.Text;
using Latch.Agent.Config;
using Latch.Core.Keys;

namespace Latch.Agent.Provisioning;

/// <summary>A validated key and the file (relative to the home) it goes into.</summary>
internal sealed record PlannedKey(SshPublicKey Key, string Source, string RelativePath);

internal enum PasswordAction
{
    /// <summary>Set the supplied password (SHA-512 crypt through chpasswd -e).</summary>
    Set,

    /// <summary>No password was supplied: lock the password (usermod -L), so only keys log in.</summary>
    Lock,
}

/// <summary>
/// Everything provisioning will do, decided and validated before the first change: a bad user name, key, host name or
/// home is refused here, so a refused provisioning has changed nothing. <c>--dry-run</c> prints it.
/// </summary>
internal sealed record ProvisioningPlan(
    ProvisioningData Data,
    bool CreateUser,
    uint? ExistingUid,
    string Home,
    PasswordAction Password,
    bool PasswordLogin,
    IReadOnlyList<PlannedKey> Keys,
    string SudoersPath,
    string SudoersContent,
    string SshdDropInPath,
    string SshdDropInContent,
    bool RegenerateHostKeys,
    HostKeyType HostKeyType,
    bool DeleteRootPassword,
    string StateDirectory,
    string KeyStoreDirectory,
    IReadOnlyList<string> Notes)
{
    public string UserName => Data.UserName;

    public string HostName => Data.HostName;

    /// <summary>The plan in words, one item per line (no secret: a password appears as "set (N characters)").</summary>
    public string Describe()
    {
        var text = new StringBuilder();
        text.Append("latchd provisioning plan for VM ").Append(Data.VmId).Append('\n');
        text.Append("  user:       ").Append(UserName)
            .Append(CreateUser ? $" (create: useradd -m -s /bin/bash, home {Home})" : $" (exists, uid {ExistingUid}, home {Home}: not recreated)").Append('\n');
        text.Append("  password:   ").Append(Password == PasswordAction.Set
            ? $"set from ovf-env.xml ({Data.Password!.Length} characters, SHA-512 crypt via chpasswd -e)"
            : "none supplied: locked (usermod -L); keys only").Append('\n');
        text.Append("  sudo:       ").Append(SudoersPath).Append(" (0440, checked with visudo -c): ").Append(SudoersContent.Split('\n')[^2]).Append('\n');
        foreach (var group in Keys.GroupBy(k => k.RelativePath))
        {
            text.Append("  keys:       ").Append(Home).Append('/').Append(group.Key).Append(" (0600, owner ").Append(UserName)
                .Append("; added when missing, existing lines kept)\n");
            foreach (var key in group)
            {
                text.Append("              ").Append(key.Key.Type).Append(' ').Append(key.Key.Sha256Fingerprint)
                    .Append(key.Key.Comment is { } c ? " " + c : "").Append(" (from ").Append(key.Source).Append(")\n");
            }
        }

        text.Append("  key store:  ").Append(KeyStoreDirectory.TrimEnd('/')).Append('/').Append(UserName)
            .Append(" (the key guard's store, 0644 root: these keys with source 'provisioning', served by latch-akc and restored by the guard)\n");
        text.Append("  hostname:   ").Append(HostName).Append(" (sethostname, /etc/hostname, /etc/hosts 127.0.1.1)\n");
        text.Append("  host keys:  ").Append(RegenerateHostKeys ? $"regenerate ({HostKeyType.ToString().ToLowerInvariant()}) with ssh-keygen; report the thumbprint" : "kept; report the thumbprint").Append('\n');
        text.Append("  sshd:       ").Append(SshdDropInPath).Append(" (checked with sshd -t, then sshd reloaded):\n");
        foreach (var line in SshdDropInContent.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')))
        {
            text.Append("              ").Append(line).Append('\n');
        }

        if (DeleteRootPassword)
        {
            text.Append("  root:       password deleted (locked)\n");
        }

        text.Append("  marker:     ").Append(StateDirectory).Append("/provisioned = ").Append(Data.VmId).Append('\n');
        foreach (var note in Data.Decisions.Concat(Notes))
        {
            text.Append("  note:       ").Append(note).Append('\n');
        }

        return text.ToString();
    }
}
