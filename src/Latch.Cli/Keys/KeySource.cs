using Latch.Azure;
using Latch.Cli.Azure;
using Latch.Core.Keys;

namespace Latch.Cli.Keys;

/// <summary>
/// The key latch puts on a VM and logs in with. <see cref="PrivateKey"/> is set only when Key Vault holds the
/// private key (it stays in memory; ssh reads it from a memfd); otherwise ssh uses <see cref="IdentityFile"/> or
/// the user's own ssh config and agent.
/// </summary>
internal sealed record KeyMaterial(SshPublicKey PublicKey, string Origin, Secret? PrivateKey, string? IdentityFile)
{
    public string PublicLine => PublicKey.ToLine();

    public string Fingerprint => PublicKey.Sha256Fingerprint;
}

/// <summary>Finds the key for a VM: Key Vault first (secret PREFIX-VM-key), else the local key with a warning.</summary>
internal sealed class KeySource(CliContext cli, AzureSession? azure, string? identityFile)
{
    public static readonly string[] LocalKeyNames = ["id_ed25519", "id_ecdsa", "id_rsa"];

    private readonly Lock _gate = new();
    private readonly HashSet<string> _warned = new(StringComparer.Ordinal);
    private KeyMaterial? _local;

    /// <summary>Warns once per distinct message: a fleet of 1,000 VMs without secrets is one warning, not 1,000.</summary>
    private void WarnOnce(string kind, string message)
    {
        int count;
        lock (_gate)
        {
            _warned.Add(kind + "\0" + message);
            count = _warned.Count(w => w.StartsWith(kind + "\0", StringComparison.Ordinal));
        }

        if (count <= 3)
        {
            cli.Warn(message);
        }
        else if (count == 4)
        {
            cli.Warn($"(more VMs have the same problem: {kind}; see --verbose)");
        }
        else
        {
            cli.Detail(message);
        }
    }

    public async Task<KeyMaterial> GetAsync(string vm, CancellationToken cancellationToken = default)
    {
        if (azure is { HasVault: true })
        {
            var name = cli.SecretName(vm);
            try
            {
                var secret = await azure.Vault.GetSecretAsync(name, cancellationToken: cancellationToken).ConfigureAwait(false);
                if (secret is not null)
                {
                    return FromSecret(name, secret.Value, vm);
                }

                WarnOnce("no secret", $"Key Vault has no secret '{name}'; using the local key. Create one with 'latch keys generate {vm}'.");
            }
            catch (AzureRequestException e)
            {
                WarnOnce("vault", $"Key Vault unavailable ({FirstSentence(e.Message)}); using the local key.");
            }
        }

        return GetLocal();
    }

    public static KeyMaterial FromSecret(string name, Secret value, string vm)
    {
        var text = value.Reveal().Trim();
        if (OpenSshPrivateKey.LooksLikePrivateKey(text))
        {
            if (!OpenSshPrivateKey.TryGetPublicKeyLine(text, out var line, out var error))
            {
                throw new CliException(ExitCodes.Config, $"Key Vault secret '{name}' holds a private key latch cannot use: {error}.");
            }

            return new KeyMaterial(Validate(line + " latch:" + vm, $"the public half of Key Vault secret '{name}'"), $"Key Vault secret '{name}' (private key)", new Secret(text + "\n"), null);
        }

        return new KeyMaterial(Validate(text, $"Key Vault secret '{name}'"), $"Key Vault secret '{name}'", null, null);
    }

    /// <summary>--identity-file, else ssh.identity_file, else the first of ~/.ssh/id_ed25519, id_ecdsa, id_rsa that has a .pub.</summary>
    public KeyMaterial GetLocal()
    {
        lock (_gate)
        {
            return _local ??= FindLocal();
        }
    }

    private KeyMaterial FindLocal()
    {
        var configured = identityFile ?? cli.Config.GetString("ssh.identity_file");
        if (configured is not null)
        {
            var path = Expand(configured);
            var pub = path.EndsWith(".pub", StringComparison.Ordinal) ? path : path + ".pub";
            var privatePath = path.EndsWith(".pub", StringComparison.Ordinal) ? path[..^4] : path;
            if (File.Exists(pub))
            {
                return new KeyMaterial(Validate(ReadLine(pub), pub), pub, null, File.Exists(privatePath) ? privatePath : null);
            }

            if (File.Exists(privatePath) && OpenSshPrivateKey.TryGetPublicKeyLine(File.ReadAllText(privatePath), out var line, out var error))
            {
                return new KeyMaterial(Validate(line, privatePath), privatePath, null, privatePath);
            }

            throw new CliException(ExitCodes.UsageOrIo, $"identity file '{configured}' has no readable public key ({pub} is missing); create it with 'ssh-keygen -y -f {privatePath} > {pub}'.");
        }

        foreach (var name in LocalKeyNames)
        {
            var privatePath = Path.Combine(cli.Paths.Home, ".ssh", name);
            var pub = privatePath + ".pub";
            if (File.Exists(pub))
            {
                return new KeyMaterial(Validate(ReadLine(pub), pub), pub, null, File.Exists(privatePath) ? privatePath : null);
            }
        }

        throw new CliException(ExitCodes.NotFound, "no key to sync: Key Vault has none for this VM and ~/.ssh has no id_ed25519.pub, id_ecdsa.pub or id_rsa.pub. Run 'latch keys generate VM' or 'ssh-keygen -t ed25519'.");
    }

    private string Expand(string path) =>
        path.StartsWith("~/", StringComparison.Ordinal) ? Path.Combine(cli.Paths.Home, path[2..]) : Path.GetFullPath(path);

    private static string ReadLine(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException(ExitCodes.UsageOrIo, $"cannot read {path}: {e.Message}", e);
        }
    }

    private static SshPublicKey Validate(string line, string origin)
    {
        if (!KeyValidator.TryValidate(line, KeyValidationOptions.Default with { AllowCertificates = false }, out var key, out var error))
        {
            throw new CliException(ExitCodes.Config, $"{origin} is not a usable public key: {error}.");
        }

        return key;
    }

    private static string FirstSentence(string message)
    {
        var dot = message.IndexOf(". ", StringComparison.Ordinal);
        return dot > 0 ? message[..dot] : message;
    }
}
