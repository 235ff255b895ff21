using System.Collections.Concurrent;

namespace Latch.Azure.Http;

/// <summary>
/// Per-resource token cache behind the credentials: a token is reused until <see cref="RefreshMargin"/> before it
/// expires, and concurrent callers for one resource share a single fetch. Thread-safe.
/// </summary>
internal sealed class TokenCache(TimeProvider time) : IDisposable
{
    public static readonly TimeSpan RefreshMargin = TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<string, Slot> _slots = new(StringComparer.Ordinal);

    /// <summary>The cached token for <paramref name="resource"/>, or the one <paramref name="fetch"/> returns; the bool says which.</summary>
    public async ValueTask<(AccessToken Token, bool Fetched)> GetAsync(string resource, Func<string, CancellationToken, Task<AccessToken>> fetch, CancellationToken cancellationToken)
    {
        var slot = _slots.GetOrAdd(resource, static _ => new Slot());
        if (slot.Fresh(time) is { } cached)
        {
            return (cached, false);
        }

        await slot.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (slot.Fresh(time) is { } fetchedMeanwhile)
            {
                return (fetchedMeanwhile, false);
            }

            var token = await fetch(resource, cancellationToken).ConfigureAwait(false);
            slot.Token = token;
            return (token, true);
        }
        finally
        {
            slot.Gate.Release();
        }
    }

    public void Dispose()
    {
        foreach (var slot in _slots.Values)
        {
            slot.Gate.Dispose();
        }
    }

    private sealed class Slot
    {
        private volatile AccessToken? _token;

        public SemaphoreSlim Gate { get; } = new(1, 1);

        public AccessToken? Token
        {
            get => _token;
            set => _token = value;
        }

        public AccessToken? Fresh(TimeProvider time) =>
            _token is { } token && time.GetUtcNow() < token.ExpiresOn - RefreshMargin ? token : null;
    }
}
