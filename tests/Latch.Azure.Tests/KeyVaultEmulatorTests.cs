using Latch.Azure.Tests.Infrastructure;

namespace Latch.Azure.Tests;

/// <summary>
/// KeyVaultSecretsClient against the emulator's Key Vault over HTTPS (trusting only the emulator's CA), with tokens
/// from the emulator's IMDS managed-identity endpoint, and every fault kind the emulator can inject.
/// </summary>
public sealed class KeyVaultEmulatorTests : IAsyncLifetime
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;
    private AzureEmulator _emulator = null!;
    private ManagedIdentityCredential _identity = null!;

    public async ValueTask InitializeAsync()
    {
        _emulator = await AzureEmulator.StartAsync();
        _identity = new ManagedIdentityCredential(_emulator.Imds());
    }

    public async ValueTask DisposeAsync()
    {
        _identity.Dispose();
        await _emulator.DisposeAsync();
    }

    private KeyVaultSecretsClient Client(int maxAttempts = 6, double perCallSeconds = 30, double totalSeconds = 60) =>
        new(_emulator.KeyVault(maxAttempts, perCallSeconds, totalSeconds), (resource, ct) => _identity.GetTokenAsync(resource, ct));

    [Fact]
    public async Task A_managed_identity_token_from_imds_reads_a_secret_with_its_attributes_and_tags()
    {
        using var client = Client();

        var secret = await client.GetSecretAsync("alice-key", cancellationToken: Ct);

        Assert.NotNull(secret);
        Assert.StartsWith("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", secret.Value.Reveal(), StringComparison.Ordinal);
        Assert.Equal("alice-key", secret.Properties.Name);
        Assert.False(string.IsNullOrEmpty(secret.Properties.Version));
        Assert.True(secret.Properties.Enabled);
        Assert.Equal(AzureEmulator.AliceNotBefore, secret.Properties.NotBefore);
        Assert.Equal(AzureEmulator.AliceExpires, secret.Properties.ExpiresOn);
        Assert.Equal("application/x-ssh-key", secret.Properties.ContentType);
        Assert.Equal(new Dictionary<string, string> { ["latch"] = "managed", ["user"] = "alice" }, secret.Properties.Tags);
        Assert.DoesNotContain("AAAAC3", secret.ToString(), StringComparison.Ordinal);
        // one managed-identity token, asked for Key Vault's resource, then the challenge round and the authorized GET
        var identity = Assert.Single(_emulator.Requests("identity"));
        Assert.Contains("resource=https%3A%2F%2Fvault.azure.net", identity.Path, StringComparison.Ordinal);
        var vault = await _emulator.LoggedAsync("keyvault", r => r.Count >= 2);
        Assert.Equal([401, 200], vault.Select(r => r.Status));
    }

    [Fact]
    public async Task A_secret_set_with_tags_and_dates_reads_back_and_lists_without_its_value()
    {
        using var client = Client();
        var notBefore = new DateTimeOffset(2026, 2, 1, 8, 0, 0, TimeSpan.Zero);
        var expires = new DateTimeOffset(2027, 2, 1, 8, 0, 0, TimeSpan.Zero);

        var written = await client.SetSecretAsync(
            "bob-key",
            new Secret("ssh-ed25519 AAAA-bob bob@desk"),
            new KeyVaultSetSecretOptions
            {
                ContentType = "application/x-ssh-key",
                NotBefore = notBefore,
                ExpiresOn = expires,
                Tags = new Dictionary<string, string> { ["latch"] = "managed", ["user"] = "bob" },
            },
            Ct);
        var read = await client.GetSecretAsync("bob-key", cancellationToken: Ct);
        var listed = await client.ListSecretPropertiesAsync(Ct);

        Assert.Equal("bob-key", written.Name);
        Assert.Equal(written.Version, read!.Properties.Version);
        Assert.Equal("ssh-ed25519 AAAA-bob bob@desk", read.Value.Reveal());
        Assert.Equal(notBefore, read.Properties.NotBefore);
        Assert.Equal(expires, read.Properties.ExpiresOn);
        Assert.Equal("bob", read.Properties.Tags["user"]);
        Assert.Equal(["alice-key", "bob-key", "retired-key"], listed.Select(p => p.Name).Order(StringComparer.Ordinal));
        var bob = listed.Single(p => p.Name == "bob-key");
        Assert.Equal(expires, bob.ExpiresOn);
        Assert.Equal(notBefore, bob.NotBefore);
        Assert.Equal("managed", bob.Tags["latch"]);
        Assert.Equal("application/x-ssh-key", bob.ContentType);
        Assert.False(listed.Single(p => p.Name == "retired-key").Enabled);
        Assert.Equal("retired", listed.Single(p => p.Name == "retired-key").Tags["latch"]);
    }

    [Fact]
    public async Task A_disabled_secret_is_an_error_that_says_it_is_disabled_not_a_missing_role()
    {
        using var client = Client();

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.GetSecretAsync("retired-key", cancellationToken: Ct));

        Assert.Equal(403, error.Status);
        Assert.Contains("SecretDisabled", error.Message, StringComparison.Ordinal);
        Assert.Contains("enable", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("role", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("retired\"", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_secret_is_null()
    {
        using var client = Client();

        Assert.Null(await client.GetSecretAsync("nobody-key", cancellationToken: Ct));
        var vault = await _emulator.LoggedAsync("keyvault", r => r.Any(x => x.Status == 404));
        Assert.Equal(404, vault[^1].Status);
    }

    [Fact]
    public async Task A_principal_the_vault_does_not_allow_gets_403_naming_the_key_vault_roles()
    {
        using var intruder = new ClientSecretCredential(AzureEmulator.Tenant, AzureEmulator.IntruderClientId, new Secret(AzureEmulator.IntruderSecret), _emulator.Entra());
        using var client = new KeyVaultSecretsClient(_emulator.KeyVault(), (resource, ct) => intruder.GetTokenAsync(resource, ct));

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.GetSecretAsync("alice-key", cancellationToken: Ct));

        Assert.Equal(403, error.Status);
        Assert.Equal("Forbidden", error.ErrorCode);
        Assert.Contains("Key Vault Secrets User", error.Message, StringComparison.Ordinal);
        Assert.Contains("Key Vault Secrets Officer", error.Message, StringComparison.Ordinal);
        Assert.Contains(AzureEmulator.IntruderClientId, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(AzureEmulator.IntruderSecret, error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("AAAAC3", error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("keyvault:status=500,count=3", 3)]
    [InlineData("keyvault:status=503,count=2", 2)]
    [InlineData("keyvault:reset,count=2", 2)]
    [InlineData("keyvault:truncate,count=2", 2)]
    [InlineData("keyvault:malformed,count=2", 2)]
    [InlineData("keyvault:throttle=0,count=2", 2)]
    [InlineData("keyvault:latency=300,count=1", 1)]
    [InlineData("identity:status=503,count=2", 2)]
    [InlineData("identity:reset,count=1", 1)]
    public async Task Reading_a_secret_recovers_when_a_fault_clears(string spec, int hits)
    {
        var fault = _emulator.Fault(spec);
        using var client = Client();

        var secret = await client.GetSecretAsync("alice-key", cancellationToken: Ct);

        Assert.Equal(AzureEmulator.AliceExpires, secret!.Properties.ExpiresOn);
        await _emulator.FaultWasHitAsync(fault, hits);
    }

    [Fact]
    public async Task A_timeout_hits_the_per_call_deadline_then_recovers()
    {
        var fault = _emulator.Fault("keyvault:timeout=20000,path=/secrets/alice-key,count=1");
        // generous per call: the retry needs a fresh TLS connection, and this machine may be busy
        using var client = Client(perCallSeconds: 2);

        var secret = await client.GetSecretAsync("alice-key", cancellationToken: Ct);

        Assert.Equal("alice-key", secret!.Properties.Name);
        await _emulator.FaultWasHitAsync(fault);
    }

    [Fact]
    public async Task Throttling_waits_for_retry_after_before_asking_again()
    {
        var fault = _emulator.Fault("keyvault:throttle=1,path=/secrets/alice-key,count=1");
        using var client = Client();

        await client.GetSecretAsync("alice-key", cancellationToken: Ct);

        // the emulator stamps a request after answering it, so the gap between the 429 and the next request is a
        // lower bound on the client's wait (a few ms of timer slack allowed)
        var (throttled, next) = await _emulator.HitAndNextAsync("keyvault", fault);
        Assert.Equal(429, throttled.Status);
        Assert.True(next.Time - throttled.Time >= TimeSpan.FromMilliseconds(950), $"asked again after {(next.Time - throttled.Time).TotalMilliseconds} ms; Retry-After was 1 s");
    }

    [Fact]
    public async Task A_410_is_not_retried_and_says_what_the_vault_answered()
    {
        var fault = _emulator.Fault("keyvault:gone,path=/secrets/alice-key");
        using var client = Client();

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.GetSecretAsync("alice-key", cancellationToken: Ct));

        Assert.Equal(410, error.Status);
        Assert.Contains($"Key Vault get secret 'alice-key' at {_emulator.Host.KeyVault}", error.Message, StringComparison.Ordinal);
        Assert.Contains("HTTP 410", error.Message, StringComparison.Ordinal);
        await _emulator.FaultWasHitAsync(fault);
        Assert.Single(_emulator.HitBy(fault));
    }

    [Fact]
    public async Task A_5xx_storm_that_never_clears_ends_after_the_attempt_limit_naming_the_vault()
    {
        var fault = _emulator.Fault("keyvault:status=503");
        using var client = Client(maxAttempts: 4);

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.GetSecretAsync("alice-key", cancellationToken: Ct));

        Assert.Equal(503, error.Status);
        Assert.Equal(4, error.Attempts);
        Assert.Contains($"Key Vault get secret 'alice-key' at {_emulator.Host.KeyVault}", error.Message, StringComparison.Ordinal);
        Assert.Contains("after 4 request(s)", error.Message, StringComparison.Ordinal);
        await _emulator.FaultWasHitAsync(fault, 4);
        Assert.Equal(4, _emulator.HitBy(fault).Count);
    }

    [Fact]
    public async Task A_hanging_vault_ends_at_the_total_deadline_naming_the_vault()
    {
        _emulator.Fault("keyvault:timeout=30000");
        using var client = Client(maxAttempts: 100, perCallSeconds: 0.3, totalSeconds: 1);

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.GetSecretAsync("alice-key", cancellationToken: Ct));

        Assert.Null(error.Status);
        Assert.Contains($"at {_emulator.Host.KeyVault}", error.Message, StringComparison.Ordinal);
        Assert.Contains("deadline", error.Message, StringComparison.Ordinal);
    }
}
