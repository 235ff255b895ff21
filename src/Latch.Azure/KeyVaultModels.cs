namespace Latch.Azure;

/// <summary>A secret's metadata (no value): what listing returns.</summary>
public sealed record KeyVaultSecretProperties(
    string Name,
    string? Version,
    bool? Enabled,
    DateTimeOffset? NotBefore,
    DateTimeOffset? ExpiresOn,
    DateTimeOffset? CreatedOn,
    DateTimeOffset? UpdatedOn,
    string? ContentType,
    IReadOnlyDictionary<string, string> Tags);

/// <summary>A secret and its value; the value prints as <c>***</c>.</summary>
public sealed record KeyVaultSecret(KeyVaultSecretProperties Properties, Secret Value);

/// <summary>What <see cref="KeyVaultSecretsClient.SetSecretAsync"/> writes besides the value.</summary>
public sealed record KeyVaultSetSecretOptions
{
    public string? ContentType { get; init; }

    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    public DateTimeOffset? ExpiresOn { get; init; }

    public DateTimeOffset? NotBefore { get; init; }

    public bool? Enabled { get; init; }
}

/// <summary>Settings for <see cref="KeyVaultSecretsClient"/>; <see cref="AzureClientOptions.BaseAddress"/> is the vault URI.</summary>
public sealed class KeyVaultSecretsClientOptions : AzureClientOptions
{
    public KeyVaultSecretsClientOptions(Uri vaultUri)
        : base(vaultUri, TimeSpan.FromSeconds(30), new RetryOptions { InitialDelay = TimeSpan.FromSeconds(0.8), MaxDelay = TimeSpan.FromSeconds(30), MaxAttempts = 6, TotalDeadline = TimeSpan.FromMinutes(2) })
    {
    }

    /// <summary>
    /// Check that the bearer challenge's resource belongs to the vault's domain before sending a token (Azure SDK
    /// default). Turn off only for a vault on a local address, such as the emulator.
    /// </summary>
    public bool VerifyChallengeResource { get; init; } = true;
}
