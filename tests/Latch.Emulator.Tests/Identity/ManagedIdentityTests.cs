using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;

namespace Latch.Emulator.Tests;

public sealed class ManagedIdentityTests : IAsyncLifetime
{
    private readonly VmDefinition _vm = new() { Name = "vm1", PrincipalId = "7c7c7c7c-0000-4000-8000-000000000001" };
    private TokenIssuer _tokens = null!;
    private TestServer _server = null!;
    private bool _known = true;

    public async ValueTask InitializeAsync()
    {
        _tokens = new TokenIssuer(TimeProvider.System);
        // IMDS is plain HTTP on a link-local address in Azure; here plain HTTP on loopback
        _server = await TestServer.StartAsync(app => app.MapManagedIdentity(_ => _known ? _vm : null, _tokens), tls: false);
    }

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private async Task<(HttpStatusCode Status, JsonElement Body)> RequestAsync(string query, bool metadataHeader = true)
    {
        using var client = _server.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metadata/identity/oauth2/token" + query);
        if (metadataHeader)
        {
            request.Headers.Add("Metadata", "true");
        }
        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).RootElement.Clone();
        return (response.StatusCode, body);
    }

    [Fact]
    public async Task Issues_a_token_for_the_vm_identity_with_string_fields_like_IMDS()
    {
        var (status, body) = await RequestAsync("?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net");

        Assert.Equal(HttpStatusCode.OK, status);
        foreach (var field in new[] { "access_token", "client_id", "expires_in", "expires_on", "ext_expires_in", "not_before", "resource", "token_type" })
        {
            Assert.Equal(JsonValueKind.String, body.GetProperty(field).ValueKind);
        }
        Assert.Equal("Bearer", body.GetProperty("token_type").GetString());
        Assert.Equal("https://vault.azure.net", body.GetProperty("resource").GetString());
        Assert.True(_tokens.TryValidate(body.GetProperty("access_token").GetString()!, out var claims, out _));
        Assert.Equal(_vm.PrincipalId, claims.PrincipalId);
        Assert.Equal("https://vault.azure.net", claims.Audience);
        Assert.Equal(IdentityEndpoints.ManagedIdentityClientId(_vm), body.GetProperty("client_id").GetString());
    }

    [Theory]
    [InlineData("?api-version=2018-02-01&resource=https://vault.azure.net", false, "Required metadata header not specified")]
    [InlineData("?api-version=2018-02-01", true, "Required audience parameter not specified")]
    [InlineData("?resource=https://vault.azure.net", true, "api-version")]
    [InlineData("?api-version=2018-02-01&resource=https://vault.azure.net&client_id=11111111-2222-4333-8444-555555555555", true, "Identity not found")]
    public async Task Bad_requests_get_400_in_the_oauth_error_shape(string query, bool metadataHeader, string description)
    {
        var (status, body) = await RequestAsync(query, metadataHeader);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_request", body.GetProperty("error").GetString());
        Assert.Contains(description, body.GetProperty("error_description").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_caller_that_is_no_known_vm_has_no_identity()
    {
        _known = false;

        var (status, body) = await RequestAsync("?api-version=2018-02-01&resource=https://vault.azure.net");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("Identity not found", body.GetProperty("error_description").GetString());
    }
}

/// <summary>Azure.Identity's ManagedIdentityCredential, pointed at the emulator's IMDS through its documented override variable.</summary>
[Collection(nameof(ProcessEnvironment))]
public sealed class ManagedIdentityCredentialTests
{
    [Fact]
    public async Task The_unmodified_ManagedIdentityCredential_gets_a_token_from_the_emulator_imds()
    {
        var vm = new VmDefinition { Name = "vm1", PrincipalId = "7c7c7c7c-0000-4000-8000-000000000002" };
        var tokens = new TokenIssuer(TimeProvider.System);
        await using var server = await TestServer.StartAsync(app => app.MapManagedIdentity(_ => vm, tokens), tls: false);
        var previous = Environment.GetEnvironmentVariable("AZURE_POD_IDENTITY_AUTHORITY_HOST");
        Environment.SetEnvironmentVariable("AZURE_POD_IDENTITY_AUTHORITY_HOST", server.BaseUri.ToString().TrimEnd('/'));
        try
        {
            var credential = new Azure.Identity.ManagedIdentityCredential(
                new Azure.Identity.ManagedIdentityCredentialOptions(Azure.Identity.ManagedIdentityId.SystemAssigned) { Transport = server.CreateTransport(), Retry = { MaxRetries = 0 } });

            var token = await credential.GetTokenAsync(new Azure.Core.TokenRequestContext(["https://vault.azure.net/.default"]), TestContext.Current.CancellationToken);

            Assert.True(tokens.TryValidate(token.Token, out var claims, out var error), error);
            Assert.Equal(vm.PrincipalId, claims.PrincipalId);
            Assert.Equal("https://vault.azure.net", claims.Audience);
        }
        finally
        {
            Environment.SetEnvironmentVariable("AZURE_POD_IDENTITY_AUTHORITY_HOST", previous);
        }
    }
}

[CollectionDefinition(nameof(ProcessEnvironment), DisableParallelization = true)]
public sealed class ProcessEnvironment;
