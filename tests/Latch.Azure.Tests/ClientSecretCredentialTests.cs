using Latch.Azure.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Latch.Azure.Tests;

public sealed class ClientSecretCredentialTests
{
    private const string Tenant = "72f988bf-0000-4000-8000-000000000001";
    private const string ClientSecretValue = "s3cr3t~never.printed";
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;
    private static readonly DateTimeOffset Start = new(2025, 11, 25, 12, 0, 0, TimeSpan.Zero);

    private static EntraClientOptions Options(Uri address, TimeProvider time, RecordingLogger? logger = null) => new()
    {
        BaseAddress = address,
        PerCallTimeout = TimeSpan.FromSeconds(30),
        Retry = TestOptions.FastRetry(),
        TimeProvider = time,
        Logger = logger,
    };

    [Fact]
    public async Task Posts_the_client_credentials_grant_and_caches_the_token_per_resource()
    {
        var time = new FakeTimeProvider(Start);
        var logger = new RecordingLogger();
        await using var server = ScriptedServer.Always(ServerAction.Json(200, """{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0eXAi.entra"}"""));
        using var credential = new ClientSecretCredential(Tenant, "app-1", new Secret(ClientSecretValue), Options(server.BaseAddress, time, logger));

        var arm = await credential.GetTokenAsync(ArmClient.Resource, Ct);
        var again = await credential.GetTokenAsync(ArmClient.Resource, Ct);
        await credential.GetTokenAsync("https://vault.azure.net", Ct);

        Assert.Equal("eyJ0eXAi.entra", arm.Token.Reveal());
        Assert.Equal(Start.AddSeconds(3599), arm.ExpiresOn);
        Assert.Same(arm, again);
        Assert.Equal(2, server.Requests.Count);
        var first = server.Requests[0];
        Assert.Equal("POST", first.Method);
        Assert.Equal($"/{Tenant}/oauth2/v2.0/token", first.Target);
        Assert.StartsWith("application/x-www-form-urlencoded", first.Header("Content-Type"), StringComparison.Ordinal);
        Assert.Equal(
            "grant_type=client_credentials&client_id=app-1&client_secret=s3cr3t~never.printed&scope=https%3A%2F%2Fmanagement.azure.com%2F.default",
            first.BodyText);
        Assert.EndsWith("scope=https%3A%2F%2Fvault.azure.net%2F.default", server.Requests[1].BodyText, StringComparison.Ordinal);
        Assert.DoesNotContain(logger.Lines, l => l.Contains(ClientSecretValue, StringComparison.Ordinal) || l.Contains("eyJ0eXAi", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Fetches_again_five_minutes_before_expiry()
    {
        var time = new FakeTimeProvider(Start);
        await using var server = ScriptedServer.Always(ServerAction.Json(200, """{"token_type":"Bearer","expires_in":3600,"access_token":"t"}"""));
        using var credential = new ClientSecretCredential(Tenant, "app-1", new Secret(ClientSecretValue), Options(server.BaseAddress, time));

        await credential.GetTokenAsync(ArmClient.Resource, Ct);
        time.Advance(TimeSpan.FromMinutes(54));
        await credential.GetTokenAsync(ArmClient.Resource, Ct);
        time.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        await credential.GetTokenAsync(ArmClient.Resource, Ct);

        Assert.Equal(2, server.Requests.Count);
    }

    [Fact]
    public async Task A_refused_secret_is_a_clear_error_with_entras_code_and_is_not_retried()
    {
        await using var server = ScriptedServer.Always(ServerAction.Json(401, """{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215]}"""));
        using var credential = new ClientSecretCredential(Tenant, "app-1", new Secret(ClientSecretValue), Options(server.BaseAddress, TimeProvider.System));

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => credential.GetTokenAsync(ArmClient.Resource, Ct).AsTask());

        Assert.Equal(401, error.Status);
        Assert.Equal("invalid_client", error.ErrorCode);
        Assert.Contains($"Entra POST /{Tenant}/oauth2/v2.0/token failed: HTTP 401 invalid_client: AADSTS7000215", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(ClientSecretValue, error.ToString(), StringComparison.Ordinal);
        Assert.Single(server.Requests);
    }

    [Theory]
    [InlineData("https://management.azure.com/", "https://management.azure.com/.default")]
    [InlineData("https://vault.azure.net", "https://vault.azure.net/.default")]
    public void The_scope_is_the_resource_with_default(string resource, string scope) =>
        Assert.Equal(scope, ClientSecretCredential.ScopeFor(resource));
}
