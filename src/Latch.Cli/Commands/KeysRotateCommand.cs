using System.CommandLine;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Latch.Azure;
using Latch.Cli.Azure;
using Latch.Cli.Config;
using Latch.Cli.Interop;
using Latch.Cli.Keys;
using Latch.Cli.Ssh;
using Latch.Cli.Sync;

namespace Latch.Cli.Commands;

/// <summary>
/// <c>latch keys rotate VM…|--all</c>: per VM, stage a new key in Key Vault (PREFIX-VM-key-next), add it to the VM,
/// verify a login with it (ssh, or <c>--verify check</c>: the key is in authorized_keys), promote it to PREFIX-VM-key,
/// and only then remove the old key (the removal script refuses when the new key is missing). Progress is saved to
/// <c>~/.local/state/latch/rotate-ID.json</c> after every step; running the same command again resumes.
/// </summary>
internal static class KeysRotateCommand
{
    private static readonly string[] s_steps = ["pending", "staged", "added", "verified", "promoted", "done"];

    public static Command Create(CliStreams streams, GlobalOptions globals)
    {
        var vms = new Argument<string[]>("VM") { Description = "VM names", Arity = ArgumentArity.ZeroOrMore };
        var all = new Option<bool>("--all") { Description = "Every Linux VM in the subscription (or in -g)" };
        var group = SharedOptions.ResourceGroup();
        var user = SharedOptions.User();
        var method = SharedOptions.SyncMethod();
        var timeout = SharedOptions.SyncTimeout();
        var parallel = new Option<int>("--parallel") { Description = "VMs rotated at the same time", DefaultValueFactory = _ => 8 };
        var verify = new Option<string>("--verify") { Description = "ssh: log in with the new key (default); check: confirm it is in authorized_keys", DefaultValueFactory = _ => "ssh" };
        verify.AcceptOnlyFromAmong("ssh", "check");
        var command = new Command("rotate", "Replace VMs' keys without ever leaving a VM with no working key (resumable)");
        command.Arguments.Add(vms);
        foreach (var option in (Option[])[all, group, user, method, timeout, parallel, verify])
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, ct) => CommandRunner.RunAsync(streams, globals, parse, (cli, token) => RunAsync(
            cli, parse.GetValue(vms) ?? [], parse.GetValue(all), parse.GetValue(group), parse.GetValue(user), parse.GetValue(method),
            parse.GetValue(timeout), Math.Clamp(parse.GetValue(parallel), 1, 64), parse.GetValue(verify) == "ssh", token), ct));
        return command;
    }

    public static async Task<int> RunAsync(CliContext cli, IReadOnlyList<string> names, bool all, string? group, string? user, string? method, int? timeoutSeconds, int parallel, bool verifyBySsh, CancellationToken cancellationToken)
    {
        if (names.Count == 0 && !all)
        {
            throw new CliException(ExitCodes.UsageOrIo, "name one or more VMs, or pass --all.");
        }

        using var azure = await AzureSession.CreateAsync(cli, cancellationToken).ConfigureAwait(false);
        if (!azure.HasVault)
        {
            throw new CliException(ExitCodes.Config, "key rotation keeps keys in Key Vault: set azure.key_vault first.");
        }

        var resolver = new VmResolver(cli, azure);
        var vms = await KeysSyncCommand.ResolveAllAsync(cli, resolver, names, all, group, parallel, cancellationToken).ConfigureAwait(false);
        var id = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', vms.Select(v => $"{v.ResourceGroup}/{v.Name}".ToUpperInvariant()).Order(StringComparer.Ordinal)))))[..12];
        var statePath = Path.Combine(cli.Paths.StateDirectory, $"rotate-{id}.json");
        var state = Load(statePath);
        if (state is not null)
        {
            cli.Info($"resuming rotation {id} started {state.Started:u} ({state.Vms.Count(v => v.Step == "done")}/{state.Vms.Count} VMs done)");
        }
        else
        {
            state = new RotationState(id, cli.Time.GetUtcNow(), [.. vms.Select(v => new RotationVmState(v.Name, v.ResourceGroup, null, "pending", null))]);
            Save(statePath, state);
        }

        var gate = new Lock();
        void Update(int index, Func<RotationVmState, RotationVmState> change)
        {
            lock (gate)
            {
                state.Vms[index] = change(state.Vms[index]);
                Save(statePath, state);
            }
        }

        var syncer = new KeySyncer(cli, azure, CommandRunner.Audit(cli));
        var timeout = CommandRunner.SyncTimeout(cli, timeoutSeconds);
        await Parallel.ForEachAsync(Enumerable.Range(0, state.Vms.Count), new ParallelOptions { MaxDegreeOfParallelism = parallel, CancellationToken = cancellationToken }, async (i, ct) =>
        {
            var vm = vms.FirstOrDefault(v => string.Equals(v.Name, state.Vms[i].Vm, StringComparison.OrdinalIgnoreCase));
            if (vm is null || state.Vms[i].Step == "done")
            {
                return;
            }

            try
            {
                await RotateOneAsync(cli, azure, resolver, syncer, vm, i, user, method, timeout, verifyBySsh, () => state.Vms[i], change => Update(i, change), ct).ConfigureAwait(false);
                Update(i, s => s with { Error = null });
            }
            catch (Exception e) when (e is CliException or AzureRequestException)
            {
                Update(i, s => s with { Error = e.Message });
            }
        }).ConfigureAwait(false);

        foreach (var vm in state.Vms)
        {
            await cli.Streams.Out.WriteLineAsync($"{vm.Vm}\t{vm.Step}{(vm.Error is null ? "" : "\t" + vm.Error)}").ConfigureAwait(false);
        }

        var unfinished = state.Vms.Count(v => v.Step != "done");
        if (unfinished == 0)
        {
            File.Move(statePath, Path.Combine(cli.Paths.StateDirectory, $"rotate-{id}.done.json"), overwrite: true);
            await cli.Streams.Out.WriteLineAsync($"rotated {state.Vms.Count} VM(s); every VM kept a working key throughout").ConfigureAwait(false);
            return ExitCodes.Success;
        }

        await cli.Streams.Out.WriteLineAsync($"{unfinished} of {state.Vms.Count} VM(s) unfinished (each still has a working key); run the same command again to resume ({statePath})").ConfigureAwait(false);
        return ExitCodes.Problems;
    }

    private static async Task RotateOneAsync(
        CliContext cli, AzureSession azure, VmResolver resolver, KeySyncer syncer, ArmVirtualMachine vm, int index, string? user, string? method, TimeSpan timeout, bool verifyBySsh,
        Func<RotationVmState> current, Action<Func<RotationVmState, RotationVmState>> update, CancellationToken cancellationToken)
    {
        var secretName = cli.SecretName(vm.Name);
        var stagingName = secretName + "-next";
        var vmUser = CommandRunner.User(cli, user, vm.Name, vm);
        var vmMethod = CommandRunner.Method(cli, method, vm.Name);
        _ = index;

        GeneratedKey next;
        if (Step(current()) < Step("staged"))
        {
            var old = await azure.Vault.GetSecretAsync(secretName, cancellationToken: cancellationToken).ConfigureAwait(false);
            var oldLine = old is null ? null : KeySource.FromSecret(secretName, old.Value, vm.Name).PublicLine;
            next = await KeyGenerator.GenerateAsync($"latch:{vm.Name}", cancellationToken).ConfigureAwait(false);
            await azure.Vault.SetSecretAsync(stagingName, next.PrivateKey, new KeyVaultSetSecretOptions { ContentType = KeysGenerateCommand.PrivateKeyContentType, Tags = new Dictionary<string, string> { ["vm"] = vm.Name, ["managed-by"] = "latch", ["rotation"] = "staged" } }, cancellationToken).ConfigureAwait(false);
            update(s => s with { OldPublicKey = oldLine, Step = "staged" });
        }
        else
        {
            var staged = await azure.Vault.GetSecretAsync(stagingName, cancellationToken: cancellationToken).ConfigureAwait(false)
                ?? throw new CliException(ExitCodes.NotFound, $"the staged key '{stagingName}' is gone from Key Vault; delete {cli.Paths.StateDirectory}/rotate-*.json for this run and start again");
            next = new GeneratedKey(staged.Value, KeySource.FromSecret(stagingName, staged.Value, vm.Name).PublicLine);
        }

        var key = KeySource.FromSecret(stagingName, next.PrivateKey, vm.Name);
        var memory = Native.CreateMemoryFile("latch-next-key", Encoding.UTF8.GetBytes(key.PrivateKey!.Reveal()));
        try
        {
            SshTarget? ssh = null;
            if (verifyBySsh || vmMethod is KeySyncer.Auto or KeySyncer.Ssh)
            {
                var addresses = await resolver.GetAddressesAsync(vm, cancellationToken).ConfigureAwait(false);
                ssh = new SshTarget(CommandRunner.Host(cli, addresses), CommandRunner.Port(cli), vmUser, Native.MemoryFilePath(memory), ["-o", "IdentitiesOnly=yes"]);
            }

            var target = new SyncTarget(vm.Name, vm.ResourceGroup, vm.Id, vmUser, ssh);
            if (Step(current()) < Step("added"))
            {
                // the new key does not work yet: ssh adds it with the user's existing keys, run-command needs none
                var withOldKeys = target with { Ssh = target.Ssh is null ? null : target.Ssh with { IdentityPath = null, UserOptions = [] } };
                var added = await syncer.SyncAsync(withOldKeys, key, vmMethod == KeySyncer.Auto ? KeySyncer.RunCommand : vmMethod, timeout, dryRun: false, "keys rotate", cancellationToken).ConfigureAwait(false);
                if (!added.Succeeded)
                {
                    throw new CliException(ExitCodes.SyncFailed, $"adding the new key failed: {added.Error}");
                }

                update(s => s with { Step = "added" });
            }

            if (Step(current()) < Step("verified"))
            {
                await VerifyAsync(cli, syncer, target, key, vmMethod, verifyBySsh, timeout, cancellationToken).ConfigureAwait(false);
                update(s => s with { Step = "verified" });
            }

            if (Step(current()) < Step("promoted"))
            {
                var tags = new Dictionary<string, string> { ["vm"] = vm.Name, ["managed-by"] = "latch" };
                await azure.Vault.SetSecretAsync(secretName, next.PrivateKey, new KeyVaultSetSecretOptions { ContentType = KeysGenerateCommand.PrivateKeyContentType, Tags = tags }, cancellationToken).ConfigureAwait(false);
                await azure.Vault.SetSecretAsync(secretName + "-pub", new Secret(key.PublicLine), new KeyVaultSetSecretOptions { ContentType = KeysGenerateCommand.PublicKeyContentType, Tags = tags }, cancellationToken).ConfigureAwait(false);
                update(s => s with { Step = "promoted" });
            }

            if (current().OldPublicKey is { } oldLine && oldLine != key.PublicLine)
            {
                if (!SyncScript.TryCreate(SyncMode.Remove, vmUser, oldLine, key.PublicLine, 15, out var script, out var problem))
                {
                    throw new CliException(ExitCodes.SyncFailed, $"cannot build the removal script: {problem}");
                }

                var (outcome, _, error, advice) = await syncer.RunScriptAsync(target with { Ssh = null }, KeySyncer.RunCommand, script, timeout, cancellationToken).ConfigureAwait(false);
                if (outcome.State is not (SyncState.Removed or SyncState.Absent))
                {
                    throw new CliException(ExitCodes.SyncFailed, $"removing the old key failed: {error ?? outcome.Message} ({advice})");
                }
            }

            // the staged copy has served its purpose: leave a disabled placeholder, not a second copy of the private key
            await azure.Vault.SetSecretAsync(stagingName, new Secret("retired"), new KeyVaultSetSecretOptions { Enabled = false, Tags = new Dictionary<string, string> { ["rotation"] = "retired" } }, cancellationToken).ConfigureAwait(false);
            update(s => s with { Step = "done" });
        }
        finally
        {
            Native.Close(memory);
        }
    }

    private static async Task VerifyAsync(CliContext cli, KeySyncer syncer, SyncTarget target, KeyMaterial key, string method, bool bySsh, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (bySsh)
        {
            var run = await new SshRunner(cli.SshProgram, cli.Time).RunAsync(target.Ssh!, ["true"], null, timeout, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (run.ExitCode != 0)
            {
                throw new CliException(ExitCodes.SyncFailed, $"login with the new key failed ({run.Describe()}); the old key stays");
            }

            return;
        }

        if (!SyncScript.TryCreate(SyncMode.Check, target.User, key.PublicLine, null, 15, out var script, out var problem))
        {
            throw new CliException(ExitCodes.SyncFailed, problem);
        }

        var (outcome, _, error, _) = await syncer.RunScriptAsync(target with { Ssh = null }, method == KeySyncer.Ssh ? KeySyncer.Ssh : KeySyncer.RunCommand, script, timeout, cancellationToken).ConfigureAwait(false);
        if (outcome.State != SyncState.Present)
        {
            throw new CliException(ExitCodes.SyncFailed, $"the new key is not in authorized_keys ({error ?? outcome.State.ToString()}); the old key stays");
        }
    }

    private static int Step(RotationVmState state) => Step(state.Step);

    private static int Step(string step) => Array.IndexOf(s_steps, step);

    private static RotationState? Load(string path)
    {
        try
        {
            return File.Exists(path) ? JsonSerializer.Deserialize(File.ReadAllBytes(path), CliJsonContext.Default.RotationState) : null;
        }
        catch (JsonException e)
        {
            throw new CliException(ExitCodes.Config, $"the rotation state {path} is damaged ({e.Message}); move it away to start over (each VM still has a working key).", e);
        }
    }

    private static void Save(string path, RotationState state) =>
        LatchPaths.WritePrivateFile(path, JsonSerializer.Serialize(state, CliJsonContext.Default.RotationState));
}
