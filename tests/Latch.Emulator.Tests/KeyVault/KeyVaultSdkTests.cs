using Azure;
using Azure.Security.KeyVault.Secrets;

namespace Latch.Emulator.Tests;

public sealed class KeyVaultSdkTests : IAsyncLifetime
{
    private const string VaultName = "latch-demo-kv";
    private const string OperatorClientId = "0b1e4a5c-1111-4222-8333-444455556666";
    private const string OperatorSecret = "operator-secret-not-for-logs";
    private const string VmPrincipal = "9a9a9a9a-0000-4000-8000-00000000a001";
    private const string OutsiderPrincipal = "9a9a9a9a-0000-4000-8000-00000000dead";

    private readonly Scenario _scenario = new()
    {
        Vms = [new VmDefinition { Name = "vm1", PrincipalId = VmPrincipal }],
        Vaults =
        [
            new VaultDefinition
            {
                Name = VaultName,
                AllowedPrincipals = [OperatorClientId, VmPrincipal],
                Secrets = [new SecretDefinition { Name = "seeded", Value = "from-scenario", ContentType = "text/plain", Tags = new Dictionary<string, string> { ["origin"] = "scenario" } }],
            },
        ],
        ServicePrincipals = [new ServicePrincipalDefinition { ClientId = OperatorClientId, ClientSecret = OperatorSecret }],
    };

    private TokenIssuer _tokens = null!;
    private TestServer _server = null!;

    public async ValueTask InitializeAsync()
    {
        _tokens = new TokenIssuer(TimeProvider.System, _scenario.TenantId);
        var store = new KeyVaultStore(_scenario, TimeProvider.System);
        _server = await TestServer.StartAsync(app =>
        {
            app.MapEntraTokenEndpoint(_scenario, _tokens);
            app.MapKeyVault(store, _tokens);
        });
    }

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private SecretClient Client(Azure.Core.TokenCredential? credential = null) => new(
        _server.UriFor($"{VaultName}.vault.localhost"),
        credential ?? _server.CreateCredential(_scenario.TenantId, OperatorClientId, OperatorSecret),
        new SecretClientOptions { Transport = _server.CreateTransport(), DisableChallengeResourceVerification = true, Retry = { MaxRetries = 0 } });

    [Fact]
    public async Task Sets_and_gets_a_secret_through_the_challenge_flow_with_ClientSecretCredential()
    {
        var client = Client();
        var set = await client.SetSecretAsync("ssh-ca", "value-1", TestContext.Current.CancellationToken);
        var got = await client.GetSecretAsync("ssh-ca", cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("value-1", got.Value.Value);
        Assert.Equal(set.Value.Properties.Version, got.Value.Properties.Version);
        Assert.Equal(32, got.Value.Properties.Version.Length);
        Assert.Equal(_server.UriFor($"{VaultName}.vault.localhost"), got.Value.Properties.VaultUri);
        Assert.True(got.Value.Properties.Enabled);
        Assert.Equal("Recoverable+Purgeable", got.Value.Properties.RecoveryLevel);
    }

    [Fact]
    public async Task Reads_a_secret_seeded_by_the_scenario_with_its_content_type_and_tags()
    {
        var got = await Client().GetSecretAsync("seeded", cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("from-scenario", got.Value.Value);
        Assert.Equal("text/plain", got.Value.Properties.ContentType);
        Assert.Equal("scenario", got.Value.Properties.Tags["origin"]);
    }

    [Fact]
    public async Task Keeps_every_version_and_gets_an_older_one_by_id()
    {
        var client = Client();
        var first = await client.SetSecretAsync("rotating", "v1", TestContext.Current.CancellationToken);
        await client.SetSecretAsync("rotating", "v2", TestContext.Current.CancellationToken);

        var versions = new List<SecretProperties>();
        await foreach (var properties in client.GetPropertiesOfSecretVersionsAsync("rotating", TestContext.Current.CancellationToken))
        {
            versions.Add(properties);
        }
        var old = await client.GetSecretAsync("rotating", first.Value.Properties.Version, TestContext.Current.CancellationToken);
        var latest = await client.GetSecretAsync("rotating", cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(2, versions.Count);
        Assert.Equal("v1", old.Value.Value);
        Assert.Equal("v2", latest.Value.Value);
    }

    [Fact]
    public async Task Lists_secrets_across_pages_without_values()
    {
        var client = Client();
        for (var i = 0; i < 30; i++)
        {
            await client.SetSecretAsync($"bulk-{i:D2}", $"value-{i}", TestContext.Current.CancellationToken);
        }

        var names = new List<string>();
        var pages = 0;
        await foreach (var page in client.GetPropertiesOfSecretsAsync(TestContext.Current.CancellationToken).AsPages())
        {
            pages++;
            names.AddRange(page.Values.Select(p => p.Name));
        }

        Assert.True(pages >= 2, $"expected several pages, got {pages}");
        Assert.Equal(31, names.Count); // 30 + the seeded one
        Assert.Equal(names.Distinct().Count(), names.Count);
        Assert.Contains("bulk-29", names);
    }

    [Fact]
    public async Task Updates_properties_tags_and_expiry_of_a_version()
    {
        var client = Client();
        var set = await client.SetSecretAsync(new KeyVaultSecret("props", "v") { Properties = { ContentType = "text/plain" } }, TestContext.Current.CancellationToken);
        var expires = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.AddDays(30).ToUnixTimeSeconds());
        var notBefore = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.AddDays(-1).ToUnixTimeSeconds());
        var properties = set.Value.Properties;
        properties.Tags["owner"] = "latch";
        properties.ExpiresOn = expires;
        properties.NotBefore = notBefore;

        var updated = await client.UpdateSecretPropertiesAsync(properties, TestContext.Current.CancellationToken);
        var got = await client.GetSecretAsync("props", cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("latch", updated.Value.Tags["owner"]);
        Assert.Equal(expires, got.Value.Properties.ExpiresOn);
        Assert.Equal(notBefore, got.Value.Properties.NotBefore);
        Assert.Equal("text/plain", got.Value.Properties.ContentType);
        Assert.Equal("v", got.Value.Value);
    }

    [Fact]
    public async Task A_disabled_secret_is_forbidden_with_code_SecretDisabled()
    {
        var client = Client();
        var set = await client.SetSecretAsync("off", "hidden", TestContext.Current.CancellationToken);
        set.Value.Properties.Enabled = false;
        await client.UpdateSecretPropertiesAsync(set.Value.Properties, TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<RequestFailedException>(() => client.GetSecretAsync("off", cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(403, error.Status);
        Assert.Equal("Forbidden", error.ErrorCode);
        Assert.DoesNotContain("hidden", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deletes_a_secret_which_then_is_not_found_and_can_be_recovered()
    {
        var client = Client();
        await client.SetSecretAsync("doomed", "bye", TestContext.Current.CancellationToken);

        var operation = await client.StartDeleteSecretAsync("doomed", TestContext.Current.CancellationToken);
        var deleted = await operation.WaitForCompletionAsync(TestContext.Current.CancellationToken);
        var missing = await Assert.ThrowsAsync<RequestFailedException>(() => client.GetSecretAsync("doomed", cancellationToken: TestContext.Current.CancellationToken));
        var reuse = await Assert.ThrowsAsync<RequestFailedException>(() => client.SetSecretAsync("doomed", "again", TestContext.Current.CancellationToken));
        var recover = await client.StartRecoverDeletedSecretAsync("doomed", TestContext.Current.CancellationToken);
        await recover.WaitForCompletionAsync(TestContext.Current.CancellationToken);
        var back = await client.GetSecretAsync("doomed", cancellationToken: TestContext.Current.CancellationToken);

        Assert.NotNull(deleted.Value.RecoveryId);
        Assert.NotNull(deleted.Value.DeletedOn);
        Assert.Equal(404, missing.Status);
        Assert.Equal("SecretNotFound", missing.ErrorCode);
        Assert.Equal(409, reuse.Status);
        Assert.Equal("bye", back.Value.Value);
    }

    [Fact]
    public async Task A_purged_secret_name_can_be_reused()
    {
        var client = Client();
        await client.SetSecretAsync("purge-me", "old", TestContext.Current.CancellationToken);
        var operation = await client.StartDeleteSecretAsync("purge-me", TestContext.Current.CancellationToken);
        await operation.WaitForCompletionAsync(TestContext.Current.CancellationToken);

        await client.PurgeDeletedSecretAsync("purge-me", TestContext.Current.CancellationToken);
        await client.SetSecretAsync("purge-me", "new", TestContext.Current.CancellationToken);

        Assert.Equal("new", (await client.GetSecretAsync("purge-me", cancellationToken: TestContext.Current.CancellationToken)).Value.Value);
    }

    [Fact]
    public async Task A_principal_not_allowed_on_the_vault_gets_403_AccessDenied()
    {
        var client = Client(new IssuerCredential(_tokens, OutsiderPrincipal));

        var error = await Assert.ThrowsAsync<RequestFailedException>(() => client.GetSecretAsync("seeded", cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(403, error.Status);
        Assert.Equal("Forbidden", error.ErrorCode);
        Assert.Contains(OutsiderPrincipal, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_vm_managed_identity_in_AllowedPrincipals_can_read()
    {
        var client = Client(new IssuerCredential(_tokens, VmPrincipal));

        var got = await client.GetSecretAsync("seeded", cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("from-scenario", got.Value.Value);
    }

    [Fact]
    public async Task A_wrong_client_secret_fails_sign_in_without_reaching_the_vault()
    {
        var client = Client(_server.CreateCredential(_scenario.TenantId, OperatorClientId, "wrong"));

        var error = await Assert.ThrowsAsync<Azure.Identity.AuthenticationFailedException>(() => client.GetSecretAsync("seeded", cancellationToken: TestContext.Current.CancellationToken));

        Assert.Contains("AADSTS7000215", error.ToString(), StringComparison.Ordinal);
    }
}
