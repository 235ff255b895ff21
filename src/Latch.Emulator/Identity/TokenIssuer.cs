using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Latch.Emulator;

/// <summary>What a validated emulator access token says.</summary>
internal sealed record TokenClaims(
    string PrincipalId,
    string Audience,
    string TenantId,
    string? AppId,
    DateTimeOffset IssuedAt,
    DateTimeOffset NotBefore,
    DateTimeOffset ExpiresOn);

/// <summary>
/// Issues and validates the emulator's access tokens: JWT-shaped (header.payload.signature, base64url) so clients
/// that peek at claims work, signed with HMAC-SHA256 under a key that exists only in this process. Tokens therefore
/// never validate against another emulator run, and nothing outside the process can mint one.
/// </summary>
internal sealed class TokenIssuer(TimeProvider time, string tenantId = TokenIssuer.DefaultTenantId)
{
    public const string DefaultTenantId = "00000000-0000-4000-8000-0000000000aa";

    private static readonly byte[] s_header = Encoding.UTF8.GetBytes(Base64Url.EncodeToString("""{"alg":"HS256","typ":"JWT"}"""u8));
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);

    public string TenantId => tenantId;

    public TimeProvider Time => time;

    /// <summary>The issuer claim, as Entra's v1 tokens spell it.</summary>
    public string Issuer => $"https://sts.windows.net/{tenantId}/";

    public string Issue(string principalId, string resource, TimeSpan lifetime) => Issue(principalId, resource, lifetime, appId: null);

    public string Issue(string principalId, string resource, TimeSpan lifetime, string? appId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(principalId);
        ArgumentException.ThrowIfNullOrWhiteSpace(resource);
        if (lifetime <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(lifetime), lifetime, "a token lifetime must be positive");
        }
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        var payload = new TokenPayload
        {
            Aud = resource,
            Iss = Issuer,
            Iat = now,
            Nbf = now,
            Exp = now + (long)Math.Ceiling(lifetime.TotalSeconds),
            Oid = principalId,
            Sub = principalId,
            Tid = tenantId,
            AppId = appId,
            Ver = "1.0",
        };
        var body = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(payload, IdentityJsonContext.Default.TokenPayload));
        var signingInput = new byte[s_header.Length + 1 + Encoding.UTF8.GetByteCount(body)];
        s_header.CopyTo(signingInput, 0);
        signingInput[s_header.Length] = (byte)'.';
        Encoding.UTF8.GetBytes(body, signingInput.AsSpan(s_header.Length + 1));
        var signature = HMACSHA256.HashData(_key, signingInput);
        return $"{Encoding.UTF8.GetString(signingInput)}.{Base64Url.EncodeToString(signature)}";
    }

    /// <summary>
    /// Checks a token (with or without the "Bearer " prefix): structure, signature, time window. The audience is the
    /// caller's to check, since each service reports a wrong audience in its own words.
    /// </summary>
    public bool TryValidate(string bearerToken, out TokenClaims claims, out string error)
    {
        claims = null!;
        var token = bearerToken?.Trim() ?? "";
        if (token.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            token = token["Bearer ".Length..].Trim();
        }
        var parts = token.Split('.');
        if (parts.Length != 3 || parts.Any(p => p.Length == 0))
        {
            error = "the token is not a JWT (expected header.payload.signature)";
            return false;
        }
        var signingInput = Encoding.UTF8.GetBytes($"{parts[0]}.{parts[1]}");
        byte[] signature;
        TokenPayload? payload;
        try
        {
            signature = Base64Url.DecodeFromChars(parts[2]);
            payload = JsonSerializer.Deserialize(Base64Url.DecodeFromChars(parts[1]), IdentityJsonContext.Default.TokenPayload);
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            error = "the token is not valid base64url JSON";
            return false;
        }
        if (!CryptographicOperations.FixedTimeEquals(signature, HMACSHA256.HashData(_key, signingInput)))
        {
            error = "the token signature is invalid (it was not issued by this emulator run, or it was altered)";
            return false;
        }
        if (payload is null || payload.Oid is null || payload.Aud is null || payload.Tid is null)
        {
            error = "the token lacks the oid, aud or tid claim";
            return false;
        }
        var now = time.GetUtcNow();
        var expires = DateTimeOffset.FromUnixTimeSeconds(payload.Exp);
        var notBefore = DateTimeOffset.FromUnixTimeSeconds(payload.Nbf);
        if (now >= expires)
        {
            error = $"the token expired at {expires:O}; the time now is {now:O}";
            return false;
        }
        if (now < notBefore)
        {
            error = $"the token is not valid before {notBefore:O}; the time now is {now:O}";
            return false;
        }
        claims = new TokenClaims(payload.Oid, payload.Aud, payload.Tid, payload.AppId, DateTimeOffset.FromUnixTimeSeconds(payload.Iat), notBefore, expires);
        error = "";
        return true;
    }

    /// <summary>True when two audiences name the same resource; Azure services accept both with and without a trailing slash.</summary>
    public static bool SameAudience(string audience, string resource) =>
        string.Equals(audience.TrimEnd('/'), resource.TrimEnd('/'), StringComparison.OrdinalIgnoreCase);
}
