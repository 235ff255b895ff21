using System.Text.Json;
using Latch.Azure.Tests.Infrastructure;

namespace Latch.Azure.Tests;

public sealed class KeyVaultSecretsClientTests : IDisposable
{
    private const string Token = "kv-token-abc";
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;
    private readonly TestCertificates _certificates = new();
    private readonly List<string> _tokenResources = [];

    public void Dispose() => _certificates.Dispose();

    private ScriptedServer Vault(Func<ReceivedRequest, int, ServerAction> authorized) => new(
        (request, n) => request.Header("Authorization") == $"Bearer {Token}"
            ? authorized(request, n)
            : ServerAction.Json(
                401,
                """{"error":{"code":"Unauthorized","message":"AKV10000: Request is missing a Bearer or PoP token."}}""",
                ("WWW-Authenticate", "Bearer authorization=\"https://login.microsoftonline.com/72f988bf-0000-0000-0000-000000000000\", resource=\"https://vault.azure.net\"")),
        _certificates.Server);

    private KeyVaultSecretsClient Client(ScriptedServer server, string? caPath = "use-test-ca") => new(
        new KeyVaultSecretsClientOptions(server.BaseAddress)
        {
            CaCertificatePath = caPath == "use-test-ca" ? _certificates.CaPath : caPath,
            VerifyChallengeResource = false,
            PerCallTimeout = TimeSpan.FromSeconds(30),
            Retry = TestOptions.FastRetry(maxAttempts: 4),
        },
        (resource, _) =>
        {
            lock (_tokenResources)
            {
                _tokenResources.Add(resource);
            }

            return ValueTask.FromResult(new AccessToken(new Secret(Token), DateTimeOffset.UtcNow.AddHours(1)));
        });

    private static string Bundle(Uri vault, string name, string value) => $$$"""
        {"value":"{{{value}}}","id":"{{{vault}}}secrets/{{{name}}}/0f1e2d3c4b5a69788796a5b4c3d2e1f0","contentType":"application/x-ssh-key",
         "attributes":{"enabled":true,"nbf":1735689600,"exp":1767225600,"created":1735000000,"updated":1735000100,"recoveryLevel":"Recoverable+Purgeable"},
         "tags":{"latch":"managed","user":"alice"}}
        """;

    [Fact]
    public async Task Gets_a_secret_after_the_bearer_challenge_with_value_attributes_and_tags()
    {
        await using var server = Vault((r, _) => ServerAction.Json(200, Bundle(new Uri(r.Header("Host") is { } h ? $"https://{h}/" : "https://x/"), "alice-key", "ssh-ed25519 AAAA-secret")));
        using var client = Client(server);

        var secret = await client.GetSecretAsync("alice-key", cancellationToken: Ct);

        Assert.NotNull(secret);
        Assert.Equal("ssh-ed25519 AAAA-secret", secret.Value.Reveal());
        Assert.Equal("alice-key", secret.Properties.Name);
        Assert.Equal("0f1e2d3c4b5a69788796a5b4c3d2e1f0", secret.Properties.Version);
        Assert.True(secret.Properties.Enabled);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1767225600), secret.Properties.ExpiresOn);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1735689600), secret.Properties.NotBefore);
        Assert.Equal("application/x-ssh-key", secret.Properties.ContentType);
        Assert.Equal("managed", secret.Properties.Tags["latch"]);
        Assert.DoesNotContain("AAAA-secret", secret.ToString(), StringComparison.Ordinal);
        Assert.Equal(["https://vault.azure.net"], _tokenResources.Distinct());
        var requests = server.Requests;
        Assert.Null(requests[0].Header("Authorization"));
        Assert.StartsWith("/secrets/alice-key?api-version=7.5", requests[^1].Target, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_secret_is_null()
    {
        await using var server = Vault((_, _) => ServerAction.Json(404, """{"error":{"code":"SecretNotFound","message":"A secret with (name/id) nope was not found in this key vault."}}"""));
        using var client = Client(server);

        Assert.Null(await client.GetSecretAsync("nope", cancellationToken: Ct));
    }

    [Fact]
    public async Task Lists_secret_properties_across_pages_without_values()
    {
        await using var server = Vault((r, _) =>
        {
            var vault = $"https://{r.Header("Host")}/";
            return r.Target.Contains("page=2", StringComparison.Ordinal)
                ? ServerAction.Json(200, $$$"""{"value":[{"id":"{{{vault}}}secrets/b","attributes":{"enabled":false},"tags":{"latch":"managed"}}],"nextLink":null}""")
                : ServerAction.Json(200, $$$"""{"value":[{"id":"{{{vault}}}secrets/a","attributes":{"enabled":true,"exp":1767225600},"contentType":"text/plain","tags":{"user":"alice"}}],"nextLink":"{{{vault}}}secrets?api-version=7.5&page=2"}""");
        });
        using var client = Client(server);

        var all = await client.ListSecretPropertiesAsync(Ct);

        Assert.Collection(
            all,
            a =>
            {
                Assert.Equal("a", a.Name);
                Assert.True(a.Enabled);
                Assert.Equal("alice", a.Tags["user"]);
                Assert.Equal("text/plain", a.ContentType);
            },
            b =>
            {
                Assert.Equal("b", b.Name);
                Assert.False(b.Enabled);
                Assert.Equal("managed", b.Tags["latch"]);
            });
    }

    [Fact]
    public async Task Sets_a_secret_with_tags_content_type_and_expiry()
    {
        await using var server = Vault((r, _) => ServerAction.Json(200, Bundle(new Uri($"https://{r.Header("Host")}/"), "bob-key", "v2")));
        using var client = Client(server);
        var expires = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        var properties = await client.SetSecretAsync(
            "bob-key",
            new Secret("v2"),
            new KeyVaultSetSecretOptions { ContentType = "application/x-ssh-key", ExpiresOn = expires, Tags = new Dictionary<string, string> { ["latch"] = "managed" } },
            Ct);

        Assert.Equal("bob-key", properties.Name);
        var put = server.Requests.Last();
        Assert.Equal("PUT", put.Method);
        using var body = JsonDocument.Parse(put.Body);
        Assert.Equal("v2", body.RootElement.GetProperty("value").GetString());
        Assert.Equal("application/x-ssh-key", body.RootElement.GetProperty("contentType").GetString());
        Assert.Equal("managed", body.RootElement.GetProperty("tags").GetProperty("latch").GetString());
        Assert.Equal(expires.ToUnixTimeSeconds(), body.RootElement.GetProperty("attributes").GetProperty("exp").GetInt64());
        // the secret value goes only to an authenticated request
        Assert.All(server.Requests.Where(r => r.Header("Authorization") is null), r => Assert.DoesNotContain("v2", r.BodyText, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Throttling_with_retry_after_is_retried_until_it_clears()
    {
        var throttled = 0;
        await using var server = Vault((r, _) => Interlocked.Increment(ref throttled) <= 2
            ? ServerAction.Json(429, """{"error":{"code":"Throttled","message":"Rate limit exceeded."}}""", ("Retry-After", "0"))
            : ServerAction.Json(200, Bundle(new Uri($"https://{r.Header("Host")}/"), "k", "v")));
        using var client = Client(server);

        var secret = await client.GetSecretAsync("k", cancellationToken: Ct);

        Assert.Equal("v", secret!.Value.Reveal());
        Assert.Equal(3, throttled);
    }

    [Fact]
    public async Task Forbidden_names_the_missing_role_and_never_the_value()
    {
        await using var server = Vault((_, _) => ServerAction.Json(403, """{"error":{"code":"Forbidden","message":"Caller is not authorized to perform action on resource.","innererror":{"code":"ForbiddenByRbac"}}}"""));
        using var client = Client(server);

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.SetSecretAsync("k", new Secret("do-not-print-me"), cancellationToken: Ct));

        Assert.Equal(403, error.Status);
        Assert.Equal("Forbidden", error.ErrorCode);
        Assert.Contains("Key Vault Secrets", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("do-not-print-me", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refuses_a_vault_whose_certificate_does_not_chain_to_the_configured_ca()
    {
        using var otherCa = new TestCertificates();
        await using var server = Vault((r, _) => ServerAction.Json(200, Bundle(new Uri($"https://{r.Header("Host")}/"), "k", "v")));
        using var client = Client(server, caPath: otherCa.CaPath);

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.GetSecretAsync("k", cancellationToken: Ct));

        Assert.Empty(server.Requests);
        Assert.Contains("CaCertificatePath", error.Message, StringComparison.Ordinal);
    }
}
