using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;

namespace Latch.Emulator.Tests;

/// <summary>Key Vault's wire behaviour over raw HTTPS: challenge, vault selection by host, error shapes, token checks.</summary>
public sealed class KeyVaultHttpTests : IAsyncLifetime
{
    private const string Reader = "5e5e5e5e-0000-4000-8000-000000000001";

    private readonly Scenario _scenario = new()
    {
        Vaults =
        [
            new VaultDefinition { Name = "kv-one", AllowedPrincipals = [Reader], Secrets = [new SecretDefinition { Name = "which", Value = "one" }] },
            new VaultDefinition { Name = "kv-two", AllowedPrincipals = [Reader], Secrets = [new SecretDefinition { Name = "which", Value = "two" }] },
        ],
    };

    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private TokenIssuer _tokens = null!;
    private TestServer _server = null!;

    public async ValueTask InitializeAsync()
    {
        _tokens = new TokenIssuer(_time, _scenario.TenantId);
        var store = new KeyVaultStore(_scenario, _time);
        _server = await TestServer.StartAsync(app => app.MapKeyVault(store, _tokens), _time);
    }

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private HttpClient Client(string host, string? token)
    {
        var client = _server.CreateHttpClient(host);
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return client;
    }

    private string ReaderToken() => _tokens.Issue(Reader, "https://vault.azure.net", TimeSpan.FromHours(1));

    private static async Task<JsonElement> ErrorAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).RootElement.GetProperty("error").Clone();

    [Fact]
    public async Task A_request_without_a_token_gets_the_bearer_challenge_the_sdks_parse()
    {
        using var client = Client("kv-one.vault.localhost", token: null);

        using var response = await client.GetAsync("/secrets/which?api-version=7.6", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(
            $"Bearer authorization=\"https://login.microsoftonline.com/{_scenario.TenantId}\", resource=\"https://vault.azure.net\"",
            response.Headers.WwwAuthenticate.ToString());
        Assert.Equal("Unauthorized", (await ErrorAsync(response)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task The_host_name_selects_the_vault_and_secret_ids_carry_that_host()
    {
        using var one = Client("kv-one.vault.localhost", ReaderToken());
        using var two = Client("KV-TWO.vault.localhost", ReaderToken());

        var fromOne = JsonDocument.Parse(await one.GetStringAsync("/secrets/which?api-version=7.6", TestContext.Current.CancellationToken)).RootElement;
        var fromTwo = JsonDocument.Parse(await two.GetStringAsync("/secrets/which/?api-version=7.6", TestContext.Current.CancellationToken)).RootElement;

        Assert.Equal("one", fromOne.GetProperty("value").GetString());
        Assert.Equal("two", fromTwo.GetProperty("value").GetString());
        Assert.StartsWith($"https://kv-one.vault.localhost:{_server.Port}/secrets/which/", fromOne.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.True(fromOne.GetProperty("attributes").GetProperty("created").GetInt64() > 0);
    }

    [Fact]
    public async Task With_several_vaults_a_host_that_names_none_is_a_404()
    {
        using var client = Client("127.0.0.1", ReaderToken());

        using var response = await client.GetAsync("/secrets/which?api-version=7.6", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("VaultNotFound", (await ErrorAsync(response)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_missing_secret_is_404_SecretNotFound_and_a_bad_name_is_400()
    {
        using var client = Client("kv-one.vault.localhost", ReaderToken());

        using var missing = await client.GetAsync("/secrets/absent?api-version=7.6", TestContext.Current.CancellationToken);
        using var badName = await client.GetAsync("/secrets/no_underscores?api-version=7.6", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("SecretNotFound", (await ErrorAsync(missing)).GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, badName.StatusCode);
        Assert.Equal("BadParameter", (await ErrorAsync(badName)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task The_api_version_is_required()
    {
        using var client = Client("kv-one.vault.localhost", ReaderToken());

        using var response = await client.GetAsync("/secrets/which", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("BadParameter", (await ErrorAsync(response)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task An_expired_token_is_refused_once_its_lifetime_passes()
    {
        var token = ReaderToken();
        using var client = Client("kv-one.vault.localhost", token);
        using var before = await client.GetAsync("/secrets/which?api-version=7.6", TestContext.Current.CancellationToken);

        _time.Advance(TimeSpan.FromHours(1));
        using var after = await client.GetAsync("/secrets/which?api-version=7.6", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
        Assert.Contains("expired", (await ErrorAsync(after)).GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_for_another_audience_is_refused()
    {
        using var client = Client("kv-one.vault.localhost", _tokens.Issue(Reader, "https://management.azure.com/", TimeSpan.FromHours(1)));

        using var response = await client.GetAsync("/secrets/which?api-version=7.6", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("AKV10022", (await ErrorAsync(response)).GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Forbidden_errors_carry_the_AccessDenied_inner_error()
    {
        using var client = Client("kv-one.vault.localhost", _tokens.Issue("someone-else", "https://vault.azure.net", TimeSpan.FromHours(1)));
        using var body = new StringContent("""{"value":"x"}""", Encoding.UTF8, "application/json");

        using var response = await client.PutAsync("/secrets/new?api-version=7.6", body, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var error = await ErrorAsync(response);
        Assert.Equal("Forbidden", error.GetProperty("code").GetString());
        Assert.Equal("AccessDenied", error.GetProperty("innererror").GetProperty("code").GetString());
        Assert.Contains("secrets set permission", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_expired_secret_is_still_returned_as_Key_Vault_does()
    {
        using var client = Client("kv-one.vault.localhost", ReaderToken());
        var past = _time.GetUtcNow().AddDays(-1).ToUnixTimeSeconds();
        using var body = new StringContent($$$"""{"value":"stale","attributes":{"exp":{{{past}}}}}""", Encoding.UTF8, "application/json");
        using var set = await client.PutAsync("/secrets/stale?api-version=7.6", body, TestContext.Current.CancellationToken);

        var got = JsonDocument.Parse(await client.GetStringAsync("/secrets/stale?api-version=7.6", TestContext.Current.CancellationToken)).RootElement;

        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        Assert.Equal("stale", got.GetProperty("value").GetString());
        Assert.Equal(past, got.GetProperty("attributes").GetProperty("exp").GetInt64());
    }

    [Fact]
    public async Task List_pages_follow_nextLink_and_never_include_values()
    {
        using var client = Client("kv-one.vault.localhost", ReaderToken());
        for (var i = 0; i < 4; i++)
        {
            using var body = new StringContent($$"""{"value":"secret-{{i}}"}""", Encoding.UTF8, "application/json");
            using var put = await client.PutAsync($"/secrets/page-{i}?api-version=7.6", body, TestContext.Current.CancellationToken);
        }

        var names = new List<string>();
        string? next = "/secrets?api-version=7.6&maxresults=2";
        var pages = 0;
        while (next is not null && pages++ < 10)
        {
            var page = JsonDocument.Parse(await client.GetStringAsync(next, TestContext.Current.CancellationToken)).RootElement;
            foreach (var item in page.GetProperty("value").EnumerateArray())
            {
                Assert.False(item.TryGetProperty("value", out _));
                names.Add(item.GetProperty("id").GetString()!.Split('/')[^1]);
            }
            next = page.GetProperty("nextLink").ValueKind == JsonValueKind.Null ? null : page.GetProperty("nextLink").GetString();
        }

        Assert.Equal(["page-0", "page-1", "page-2", "page-3", "which"], names);
        Assert.Equal(3, pages);
    }
}
