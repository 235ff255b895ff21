using Latch.Agent.Config;
using Latch.Agent.Provisioning;
using Latch.Core.Keys;

namespace Latch.Agent.Os;

/// <summary>SSH host keys: regenerated with ssh-keygen when configured, and the thumbprint waagent reports.</summary>
internal sealed class HostKeys(HostSystem system, string sshDirectory)
{
    public static string TypeName(HostKeyType type) => type switch
    {
        HostKeyType.Rsa => "rsa",
        HostKeyType.Ecdsa => "ecdsa",
        _ => "ed25519",
    };

    public async Task RegenerateAsync(HostKeyType type, CancellationToken cancellationToken = default)
    {
        foreach (var file in Directory.EnumerateFiles(system.PathOf(sshDirectory), "ssh_host_*key*"))
        {
            File.Delete(file);
        }

        ProcessResult result;
        if (type == HostKeyType.Auto)
        {
            result = await system.RunAsync(["ssh-keygen", "-A"], cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var name = TypeName(type);
            result = await system.RunAsync(["ssh-keygen", "-q", "-N", "", "-t", name, "-f", $"{sshDirectory}/ssh_host_{name}_key"], cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        if (!result.Succeeded)
        {
            throw new ProvisioningException("hostkeys", "KeygenFailed", $"ssh-keygen exited with {result.ExitCode}: {result.Output}");
        }
    }

    /// <summary>
    /// waagent's thumbprint: the second field of <c>ssh-keygen -lf ssh_host_TYPE_key.pub</c> without colons
    /// ("SHA256abc…"). Computed here from the public key itself; null when that key does not exist.
    /// </summary>
    public string? Thumbprint(HostKeyType type)
    {
        var text = system.TryReadText($"{sshDirectory}/ssh_host_{TypeName(type)}_key.pub");
        return text is not null && SshPublicKey.TryParse(text.Trim(), out var key, out _)
            ? key.Sha256Fingerprint.Replace(":", "", StringComparison.Ordinal)
            : null;
    }
}
