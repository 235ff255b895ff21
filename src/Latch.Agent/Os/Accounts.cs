using Latch.Agent.Provisioning;
using Latch.Azure;

namespace Latch.Agent.Os;

/// <summary>User accounts through the OS's own tools (useradd, chpasswd, usermod), as waagent does.</summary>
internal sealed class Accounts(HostSystem system)
{
    /// <summary>useradd -m -s /bin/bash USER (waagent runs useradd -m; bash is what Azure images give the admin).</summary>
    public async Task CreateUserAsync(string user, CancellationToken cancellationToken = default)
    {
        var result = await system.RunAsync(["useradd", "-m", "-s", "/bin/bash", "-c", "provisioned by latchd", user], cancellationToken: cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new ProvisioningException("user", "UseraddFailed", $"useradd {user} exited with {result.ExitCode}: {result.Output}");
        }
    }

    /// <summary>Sets a SHA-512 crypt hash through chpasswd -e on standard input: the hash never appears on a command line.</summary>
    public async Task SetPasswordAsync(string user, Secret password, int saltLength, CancellationToken cancellationToken = default)
    {
        var hash = Sha512Crypt.Hash(password.Reveal(), Sha512Crypt.NewSalt(saltLength));
        var result = await system.RunAsync(["chpasswd", "-e"], $"{user}:{hash}\n", cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new ProvisioningException("password", "ChpasswdFailed", $"chpasswd -e for {user} exited with {result.ExitCode}: {result.Output}");
        }
    }

    /// <summary>usermod -L: no password can log in or unlock sudo; keys still work.</summary>
    public async Task LockPasswordAsync(string user, CancellationToken cancellationToken = default)
    {
        var result = await system.RunAsync(["usermod", "-L", user], cancellationToken: cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new ProvisioningException("password", "LockFailed", $"usermod -L {user} exited with {result.ExitCode}: {result.Output}");
        }
    }

    /// <summary>Provisioning.DeleteRootPassword: waagent replaces root's hash with a lock marker; so does latchd.</summary>
    public async Task DeleteRootPasswordAsync(CancellationToken cancellationToken = default)
    {
        var result = await system.RunAsync(["usermod", "-p", "*LOCK*", "root"], cancellationToken: cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new ProvisioningException("root", "DeleteRootPasswordFailed", $"usermod -p '*LOCK*' root exited with {result.ExitCode}: {result.Output}");
        }
    }

    /// <summary>userdel -r USER (deprovision --user).</summary>
    public async Task<ProcessResult> DeleteUserAsync(string user, CancellationToken cancellationToken = default) =>
        await system.RunAsync(["userdel", "-r", user], cancellationToken: cancellationToken).ConfigureAwait(false);
}
