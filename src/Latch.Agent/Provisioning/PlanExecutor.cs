using Latch.Agent.Config;
using Latch.Agent.Os;
using Latch.Core.Files;
using Latch.Core.Keys;

namespace Latch.Agent.Provisioning;

/// <summary>Carries out a <see cref="ProvisioningPlan"/> step by step; a failed step throws <see cref="ProvisioningException"/> naming it.</summary>
internal sealed class PlanExecutor(HostSystem system, AgentConfig config, StateStore state, TimeProvider time)
{
    /// <summary>Runs every step; returns the state to record (the marker is the caller's, after this returns).</summary>
    public async Task<ProvisioningState> ExecuteAsync(ProvisioningPlan plan, CancellationToken cancellationToken = default)
    {
        var logger = system.Logger;
        await Step("entropy", () =>
        {
            try
            {
                var bytes = Entropy.Seed(system);
                if (bytes > 0)
                {
                    Log.EntropySeeded(logger, bytes);
                }
            }
            catch (IOException e)
            {
                Log.EntropyFailed(logger, e.Message);
            }

            return Task.CompletedTask;
        }).ConfigureAwait(false);

        await Step("hostname", () =>
        {
            new HostName(system).Set(plan.HostName, cancellationToken);
            Log.HostNameSet(logger, plan.HostName);
            return Task.CompletedTask;
        }).ConfigureAwait(false);

        await Step("hostname", async () =>
        {
            foreach (var action in await new HostNamePublisher(system).PublishAsync(cancellationToken).ConfigureAwait(false))
            {
                Log.HostNamePublished(logger, action);
            }
        }).ConfigureAwait(false);

        var accounts = new Accounts(system);
        await Step("user", async () =>
        {
            if (plan.CreateUser)
            {
                await accounts.CreateUserAsync(plan.UserName, cancellationToken).ConfigureAwait(false);
                Log.UserCreated(logger, plan.UserName);
            }
        }).ConfigureAwait(false);

        var entry = UserDatabase.Load(system).Find(plan.UserName)
            ?? throw new ProvisioningException("user", "UserMissing", $"the user '{plan.UserName}' is not in /etc/passwd after useradd");
        if (new FileInfo(system.PathOf(entry.Home)).LinkTarget is not null)
        {
            throw new ProvisioningException("user", "SymlinkedHome", $"the home {entry.Home} of '{plan.UserName}' is a symbolic link; latchd writes keys only into a real home directory");
        }

        await Step("password", async () =>
        {
            if (plan.Password == PasswordAction.Set)
            {
                await accounts.SetPasswordAsync(plan.UserName, plan.Data.Password!, config.PasswordCryptSaltLength, cancellationToken).ConfigureAwait(false);
                Log.PasswordSet(logger, plan.UserName);
            }
            else
            {
                await accounts.LockPasswordAsync(plan.UserName, cancellationToken).ConfigureAwait(false);
                Log.PasswordLocked(logger, plan.UserName);
            }

            if (plan.DeleteRootPassword)
            {
                await accounts.DeleteRootPasswordAsync(cancellationToken).ConfigureAwait(false);
                Log.RootPasswordDeleted(logger);
            }
        }).ConfigureAwait(false);

        await Step("sudoers", () => new Sudoers(system, state).InstallAsync(plan.SudoersPath, plan.SudoersContent, cancellationToken)).ConfigureAwait(false);
        Log.SudoersWritten(logger, plan.SudoersPath);

        await Step("keys", () =>
        {
            foreach (var group in plan.Keys.GroupBy(k => k.RelativePath))
            {
                var added = 0;
                var result = SafeFile.Update(
                    new UserFileTarget(entry.Home, group.Key, entry.Uid, entry.Gid),
                    current =>
                    {
                        var document = current is null ? AuthorizedKeysDocument.Empty : AuthorizedKeysDocument.ParseOwned(current);
                        added = document.EnsurePresent(group.Select(k => k.Key));
                        return added == 0 ? null : document.ToBytes();
                    },
                    cancellationToken: cancellationToken);
                Log.KeysInstalled(logger, added, group.Count() - added, entry.Home + "/" + group.Key, result.Created);
            }

            // the key guard's store: latch-akc serves these keys and the file guard puts them back after an overwrite
            state.EnsureDirectory(state.Directory);
            var provisioned = new ProvisionedKeys(system, config.KeyStoreDirectory);
            var recorded = provisioned.Record(plan.UserName, [.. plan.Keys.Select(k => k.Key)], cancellationToken);
            Log.KeysRecorded(logger, provisioned.PathOf(plan.UserName), recorded);
            provisioned.DropLegacy(state.Directory);
            return Task.CompletedTask;
        }).ConfigureAwait(false);

        var hostKeys = new HostKeys(system, config.SshDirectory);
        await Step("hostkeys", async () =>
        {
            if (plan.RegenerateHostKeys)
            {
                await hostKeys.RegenerateAsync(plan.HostKeyType, cancellationToken).ConfigureAwait(false);
                Log.HostKeysRegenerated(logger, plan.HostKeyType.ToString().ToLowerInvariant());
            }
        }).ConfigureAwait(false);

        await Step("sshd", () => new Sshd(system, config.SshDirectory).ApplyAsync(plan.SshdDropInPath, plan.SshdDropInContent, plan.PasswordLogin, cancellationToken)).ConfigureAwait(false);

        var record = new ProvisioningState(
            plan.Data.VmId, plan.UserName, entry.Uid, entry.Home,
            [.. plan.Keys.Select(k => k.Key.Sha256Fingerprint)], hostKeys.Thumbprint(plan.HostKeyType), time.GetUtcNow());
        await Step("state", () =>
        {
            state.WriteState(record, cancellationToken);
            return Task.CompletedTask;
        }).ConfigureAwait(false);
        return record;
    }

    /// <summary>Runs one step; a file refusal or an I/O error becomes a <see cref="ProvisioningException"/> naming the step.</summary>
    private static async Task Step(string name, Func<Task> action)
    {
        try
        {
            await action().ConfigureAwait(false);
        }
        catch (SafeFileException e)
        {
            throw new ProvisioningException(name, "File" + e.Reason, e.Message, e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ProvisioningException(name, "IoError", e.Message, e);
        }
    }
}
