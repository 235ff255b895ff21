using System.Text.Json;
using Latch.Azure;
using Latch.Cli.Config;

namespace Latch.Cli.Azure;

/// <summary>
/// What one latch run learns about signing in and keeps for the next: access tokens until shortly before they expire,
/// and discovered facts (the emulator's endpoints, the tenant, the only subscription) for an hour. One JSON file,
/// <c>$XDG_CACHE_HOME/latch/session.json</c>, mode 0600 in a 0700 directory, replaced atomically. Keys name an
/// identity (authority, tenant, client id; never a secret). Token values are never logged or printed. A corrupt or
/// unreadable file is ignored (and rewritten): the cache only saves round trips, it never decides anything.
/// </summary>
internal sealed class SessionCache(string path, TimeProvider time)
{
    /// <summary>A token this close to expiry is not used: a command must not start with one that lapses midway.</summary>
    public static readonly TimeSpan TokenMargin = TimeSpan.FromMinutes(5);

    public static readonly TimeSpan FactLifetime = TimeSpan.FromHours(1);

    private readonly Lock _gate = new();

    public string Path => path;

    public AccessToken? TryGetToken(string identity, string resource)
    {
        var file = Load();
        return file.Tokens.TryGetValue(TokenKey(identity, resource), out var cached) && cached.ExpiresOn - TokenMargin > time.GetUtcNow()
            ? new AccessToken(new Secret(cached.Token), cached.ExpiresOn)
            : null;
    }

    public void PutToken(string identity, string resource, AccessToken token)
    {
        if (token.ExpiresOn - TokenMargin <= time.GetUtcNow())
        {
            return;
        }

        Update(file => file.Tokens[TokenKey(identity, resource)] = new CachedTokenWire(token.Token.Reveal(), token.ExpiresOn));
    }

    public void RemoveToken(string identity, string resource) => Update(file => file.Tokens.Remove(TokenKey(identity, resource)));

    public string? TryGetFact(string key) =>
        Load().Facts.TryGetValue(key, out var fact) && fact.ExpiresOn > time.GetUtcNow() ? fact.Value : null;

    public void RemoveFact(string key) => Update(file => file.Facts.Remove(key));

    public void PutFact(string key, string value) =>
        Update(file => file.Facts[key] = new CachedFactWire(value, time.GetUtcNow() + FactLifetime));

    private static string TokenKey(string identity, string resource) => identity + " " + resource.TrimEnd('/');

    private void Update(Action<SessionCacheFile> change)
    {
        lock (_gate)
        {
            var file = Load();
            var now = time.GetUtcNow();
            // drop what has expired, so the file does not grow with every identity ever used
            foreach (var stale in file.Tokens.Where(t => t.Value.ExpiresOn <= now).Select(t => t.Key).ToList())
            {
                file.Tokens.Remove(stale);
            }

            foreach (var stale in file.Facts.Where(f => f.Value.ExpiresOn <= now).Select(f => f.Key).ToList())
            {
                file.Facts.Remove(stale);
            }

            change(file);
            try
            {
                LatchPaths.WritePrivateFile(path, JsonSerializer.Serialize(file, CliJsonContext.Default.SessionCacheFile));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // a cache that cannot be written costs a sign-in next time, nothing more
            }
        }
    }

    private SessionCacheFile Load()
    {
        try
        {
            if (File.Exists(path) && JsonSerializer.Deserialize(File.ReadAllBytes(path), CliJsonContext.Default.SessionCacheFile) is { Version: 1 } file)
            {
                return file with { Tokens = file.Tokens ?? [], Facts = file.Facts ?? [] };
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            // unreadable: start afresh
        }

        return new SessionCacheFile(1, new Dictionary<string, CachedTokenWire>(StringComparer.Ordinal), new Dictionary<string, CachedFactWire>(StringComparer.Ordinal));
    }
}
