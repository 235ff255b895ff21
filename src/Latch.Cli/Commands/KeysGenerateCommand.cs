using System.CommandLine;
using Latch.Azure;
using Latch.Cli.Azure;
using Latch.Cli.Keys;

namespace Latch.Cli.Commands;

/// <summary>
/// <c>latch keys generate VM</c>: a new ed25519 pair stored in Key Vault (private in PREFIX-VM-key, public in
/// PREFIX-VM-key-pub). The private key is never printed; <c>--save</c> also writes ~/.ssh/latch-VM (0600).
/// </summary>
internal static class KeysGenerateCommand
{
    public const string PrivateKeyContentType = "application/x-openssh-private-key";
    public const string PublicKeyContentType = "application/x-openssh-public-key";

    public static Command Create(CliStreams streams, GlobalOptions globals)
    {
        var vm = new Argument<string>("VM") { Description = "VM name (the secret is named after it)" };
        var save = new Option<bool>("--save") { Description = "Also write the private key to ~/.ssh/latch-VM (mode 0600)" };
        var force = new Option<bool>("--force") { Description = "Replace an existing secret (prefer 'latch keys rotate', which keeps VMs reachable)" };
        var dryRun = SharedOptions.DryRun();
        var command = new Command("generate", "Create an ed25519 key pair for a VM and store it in Key Vault");
        command.Arguments.Add(vm);
        command.Options.Add(save);
        command.Options.Add(force);
        command.Options.Add(dryRun);
        command.SetAction((parse, ct) => CommandRunner.RunAsync(streams, globals, parse, async (cli, token) =>
        {
            var name = parse.GetValue(vm)!;
            var secretName = cli.SecretName(name);
            using var azure = await AzureSession.CreateAsync(cli, token).ConfigureAwait(false);
            if (await azure.Vault.GetSecretAsync(secretName, cancellationToken: token).ConfigureAwait(false) is not null && !parse.GetValue(force))
            {
                throw new CliException(ExitCodes.UsageOrIo, $"Key Vault already has '{secretName}'. Use 'latch keys rotate {name}' to replace it without losing access, or --force.");
            }

            if (parse.GetValue(dryRun))
            {
                cli.Info($"dry run: would generate an ed25519 key and store it in Key Vault as '{secretName}' (private) and '{secretName}-pub' (public)");
                return ExitCodes.Success;
            }

            var key = await KeyGenerator.GenerateAsync($"latch:{name}", token).ConfigureAwait(false);
            var version = await StoreAsync(azure, secretName, name, key, token).ConfigureAwait(false);
            await cli.Streams.Out.WriteLineAsync($"stored a new ed25519 key for {name} in Key Vault as '{secretName}' (version {version}); public key:").ConfigureAwait(false);
            await cli.Streams.Out.WriteLineAsync(key.PublicLine).ConfigureAwait(false);
            if (parse.GetValue(save))
            {
                var path = Path.Combine(cli.Paths.Home, ".ssh", $"latch-{name}");
                try
                {
                    KeyGenerator.SaveLocal(path, key);
                }
                catch (IOException e)
                {
                    throw new CliException(ExitCodes.UsageOrIo, $"cannot write {path} ({e.Message}); move the old file away first.", e);
                }

                await cli.Streams.Out.WriteLineAsync($"saved the private key to {path} (0600)").ConfigureAwait(false);
            }

            return ExitCodes.Success;
        }, ct));
        return command;
    }

    public static async Task<string?> StoreAsync(AzureSession azure, string secretName, string vm, GeneratedKey key, CancellationToken cancellationToken)
    {
        var tags = new Dictionary<string, string> { ["vm"] = vm, ["managed-by"] = "latch" };
        var stored = await azure.Vault.SetSecretAsync(secretName, key.PrivateKey, new KeyVaultSetSecretOptions { ContentType = PrivateKeyContentType, Tags = tags }, cancellationToken).ConfigureAwait(false);
        await azure.Vault.SetSecretAsync(secretName + "-pub", new Secret(key.PublicLine), new KeyVaultSetSecretOptions { ContentType = PublicKeyContentType, Tags = tags }, cancellationToken).ConfigureAwait(false);
        return stored.Version;
    }
}
