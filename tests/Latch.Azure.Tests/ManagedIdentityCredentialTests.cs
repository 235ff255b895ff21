using Latch.Azure.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Latch.Azure.Tests;

public sealed class ManagedIdentityCredentialTests
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;
    private static readonly DateTimeOffset Start = new(2025, 11, 25, 12, 0, 0, TimeSpan.Zero);

    private static string TokenBody(string token, DateTimeOffset expiresOn) =>
        $$"""{"access_token":"{{token}}","client_id":"c","expires_in":"3599","expires_on":"{{expiresOn.ToUnixTimeSeconds()}}","ext_expires_in":"3599","not_before":"0","resource":"https://vault.azure.net","token_type":"Bearer"}""";

    private static ImdsClientOptions Options(Uri address, TimeProvider time, RecordingLogger? logger = null) => new()
    {
        BaseAddress = address,
        PerCallTimeout = TimeSpan.FromSeconds(30),
        Retry = TestOptions.FastRetry(),
        TimeProvider = time,
        Logger = logger,
    };

    [Fact]
    public async Task Fetches_a_token_from_imds_with_the_metadata_header()
    {
        var time = new FakeTimeProvider(Start);
        await using var server = ScriptedServer.Always(ServerAction.Json(200, TokenBody("eyJ0eXAi.first", Start.AddHours(1))));
        using var credential = new ManagedIdentityCredential(Options(server.BaseAddress, time), clientId: "11111111-aaaa");

        var token = await credential.GetTokenAsync("https://vault.azure.net", Ct);

        Assert.Equal("eyJ0eXAi.first", token.Token.Reveal());
        Assert.Equal(Start.AddHours(1), token.ExpiresOn);
        var request = Assert.Single(server.Requests);
        Assert.Equal("true", request.Header("Metadata"), ignoreCase: true);
        Assert.Equal("/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net&client_id=11111111-aaaa", request.Target);
    }

    [Fact]
    public async Task Caches_until_five_minutes_before_expiry()
    {
        var time = new FakeTimeProvider(Start);
        var issued = 0;
        await using var server = new ScriptedServer((_, n) =>
        {
            Interlocked.Increment(ref issued);
            return ServerAction.Json(200, TokenBody($"token-{n}", time.GetUtcNow().AddHours(1)));
        });
        using var credential = new ManagedIdentityCredential(Options(server.BaseAddress, time));

        var first = await credential.GetTokenAsync("https://management.azure.com/", Ct);
        time.Advance(TimeSpan.FromMinutes(54));
        var cached = await credential.GetTokenAsync("https://management.azure.com/", Ct);
        time.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        var refreshed = await credential.GetTokenAsync("https://management.azure.com/", Ct);

        Assert.Equal("token-0", first.Token.Reveal());
        Assert.Same(first, cached);
        Assert.Equal("token-1", refreshed.Token.Reveal());
        Assert.Equal(2, issued);
    }

    [Fact]
    public async Task Each_resource_has_its_own_token()
    {
        var time = new FakeTimeProvider(Start);
        await using var server = new ScriptedServer((r, n) => ServerAction.Json(200, TokenBody($"token-{n}", Start.AddHours(1))));
        using var credential = new ManagedIdentityCredential(Options(server.BaseAddress, time));

        var vault = await credential.GetTokenAsync("https://vault.azure.net", Ct);
        var arm = await credential.GetTokenAsync("https://management.azure.com/", Ct);

        Assert.NotEqual(vault.Token, arm.Token);
        Assert.Equal(2, server.Requests.Count);
    }

    [Fact]
    public async Task Concurrent_callers_share_one_fetch()
    {
        var time = new FakeTimeProvider(Start);
        await using var server = ScriptedServer.Always(ServerAction.Json(200, TokenBody("shared", Start.AddHours(1))));
        using var credential = new ManagedIdentityCredential(Options(server.BaseAddress, time));

        var tokens = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => credential.GetTokenAsync("https://vault.azure.net", Ct).AsTask()));

        Assert.All(tokens, t => Assert.Equal("shared", t.Token.Reveal()));
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task Identity_not_found_is_not_retried_and_the_error_says_why()
    {
        var time = new FakeTimeProvider(Start);
        await using var server = ScriptedServer.Always(ServerAction.Json(400, """{"error":"invalid_request","error_description":"Identity not found"}"""));
        using var credential = new ManagedIdentityCredential(Options(server.BaseAddress, time));

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => credential.GetTokenAsync("https://vault.azure.net", Ct).AsTask());

        Assert.Equal(400, error.Status);
        Assert.Equal("invalid_request", error.ErrorCode);
        Assert.Contains("Identity not found", error.Message, StringComparison.Ordinal);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task A_malformed_token_response_never_shows_the_token_in_errors_or_logs()
    {
        var logger = new RecordingLogger();
        await using var server = ScriptedServer.Always(ServerAction.Json(200, """{"access_token":"SUPER-SECRET-TOKEN","expires_on":"""));
        using var credential = new ManagedIdentityCredential(Options(server.BaseAddress, TimeProvider.System, logger));

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => credential.GetTokenAsync("https://vault.azure.net", Ct).AsTask());

        Assert.DoesNotContain("SUPER-SECRET", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(logger.Lines, l => l.Contains("SUPER-SECRET", StringComparison.Ordinal));
        Assert.NotEmpty(logger.Lines);
    }

    [Fact]
    public void Token_records_print_without_the_token()
    {
        var token = new AccessToken(new Secret("eyJhbGciOi.payload.sig"), Start);

        Assert.DoesNotContain("eyJ", token.ToString(), StringComparison.Ordinal);
        Assert.Contains("***", token.ToString(), StringComparison.Ordinal);
    }
}
