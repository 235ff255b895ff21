namespace Latch.Azure;

/// <summary>A bearer token and the moment it stops being valid.</summary>
public sealed record AccessToken(Secret Token, DateTimeOffset ExpiresOn);
