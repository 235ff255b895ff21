using System.Text;
using Microsoft.Extensions.Time.Testing;

namespace Latch.Emulator.Tests;

public sealed class TokenIssuerTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));

    [Fact]
    public void A_fresh_token_validates_with_its_claims()
    {
        var issuer = new TokenIssuer(_time, "tenant-1");

        var token = issuer.Issue("principal-1", "https://vault.azure.net", TimeSpan.FromMinutes(10));

        Assert.True(issuer.TryValidate("Bearer " + token, out var claims, out var error), error);
        Assert.Equal("principal-1", claims.PrincipalId);
        Assert.Equal("https://vault.azure.net", claims.Audience);
        Assert.Equal("tenant-1", claims.TenantId);
        Assert.Equal(_time.GetUtcNow().AddMinutes(10), claims.ExpiresOn);
        Assert.Equal(3, token.Split('.').Length);
    }

    [Fact]
    public void An_expired_token_is_rejected()
    {
        var issuer = new TokenIssuer(_time);
        var token = issuer.Issue("p", "https://vault.azure.net", TimeSpan.FromMinutes(10));

        _time.Advance(TimeSpan.FromMinutes(10));

        Assert.False(issuer.TryValidate(token, out _, out var error));
        Assert.Contains("expired", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_token_with_an_edited_payload_is_rejected()
    {
        var issuer = new TokenIssuer(_time);
        var parts = issuer.Issue("victim", "https://vault.azure.net", TimeSpan.FromMinutes(10)).Split('.');
        var payload = Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(parts[1])).Replace("victim", "mallory", StringComparison.Ordinal);
        var forged = $"{parts[0]}.{System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload))}.{parts[2]}";

        Assert.False(issuer.TryValidate(forged, out _, out var error));
        Assert.Contains("signature", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_token_from_another_emulator_run_is_rejected()
    {
        var token = new TokenIssuer(_time).Issue("p", "https://vault.azure.net", TimeSpan.FromMinutes(10));

        Assert.False(new TokenIssuer(_time).TryValidate(token, out _, out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not-a-jwt")]
    [InlineData("a.b")]
    [InlineData("a.b.c")]
    [InlineData("..")]
    public void Garbage_is_rejected_with_a_reason(string garbage)
    {
        Assert.False(new TokenIssuer(_time).TryValidate(garbage, out _, out var error));
        Assert.NotEmpty(error);
    }
}
