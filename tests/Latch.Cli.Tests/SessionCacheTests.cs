using System.Text.Json;
using Latch.Azure;
using Latch.Cli.Azure;
using Latch.Cli.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Latch.Cli.Tests;

public sealed class SessionCacheTests
{
    [Fact]
    public void A_cached_token_is_used_until_five_minutes_before_it_expires_and_the_file_is_private()
    {
        var directory = Directory.CreateTempSubdirectory("latch-session-").FullName;
        try
        {
            var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero));
            var path = Path.Combine(directory, "cache", "latch", "session.json");
            var cache = new SessionCache(path, time);
            cache.PutToken("client-secret https://login/ tenant client", "https://management.azure.com/", new AccessToken(new Secret("token-one"), time.GetUtcNow().AddMinutes(60)));

            // another run (a new instance reading the same file)
            var again = new SessionCache(path, time);
            Assert.Equal("token-one", again.TryGetToken("client-secret https://login/ tenant client", "https://management.azure.com")!.Token.Reveal());
            Assert.Null(again.TryGetToken("client-secret https://login/ tenant other-client", "https://management.azure.com"));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(path)!));

            time.Advance(TimeSpan.FromMinutes(55));
            Assert.Null(again.TryGetToken("client-secret https://login/ tenant client", "https://management.azure.com"));

            // a token that is already nearly expired is not written at all
            cache.PutToken("id", "r", new AccessToken(new Secret("short"), time.GetUtcNow().AddMinutes(1)));
            Assert.DoesNotContain("short", File.ReadAllText(path), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void A_corrupt_cache_file_is_ignored_and_replaced()
    {
        var directory = Directory.CreateTempSubdirectory("latch-session-").FullName;
        try
        {
            var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(56));
            var path = Path.Combine(directory, "session.json");
            File.WriteAllText(path, "{ not json");
            var cache = new SessionCache(path, time);
            Assert.Null(cache.TryGetToken("id", "r"));
            cache.PutToken("id", "r", new AccessToken(new Secret("fresh"), time.GetUtcNow().AddHours(1)));
            Assert.Equal("fresh", cache.TryGetToken("id", "r")!.Token.Reveal());
            using var json = JsonDocument.Parse(File.ReadAllText(path));
            Assert.Equal(1, json.RootElement.GetProperty("version").GetInt32());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task A_second_run_signs_in_from_the_cache_and_no_output_shows_the_token()
    {
        await using var world = await CliWorld.StartAsync(1, withVault: false);
        var first = await world.LatchAsync("vm", "list", "--verbose");
        Assert.True(first.ExitCode == 0, first.ToString());
        var second = await world.LatchAsync("vm", "list", "--verbose");
        Assert.True(second.ExitCode == 0, second.ToString());

        using var http = new HttpClient();
        var requests = await System.Net.Http.Json.HttpClientJsonExtensions.GetFromJsonAsync<List<CliWorld.RequestEntry>>(http, new Uri(world.Host.Control, "/requests?group=arm"), TestContext.Current.CancellationToken);
        Assert.Single(requests!, r => r.Method == "POST" && r.Path.Contains("/oauth2/v2.0/token", StringComparison.Ordinal));

        var session = Path.Combine(world.Home, ".cache", "latch", "session.json");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(session));
        using var json = JsonDocument.Parse(File.ReadAllText(session));
        var token = Assert.Single(json.RootElement.GetProperty("tokens").EnumerateObject()).Value.GetProperty("token").GetString()!;
        Assert.DoesNotContain(CliWorld.ClientSecret, File.ReadAllText(session), StringComparison.Ordinal);
        foreach (var output in (string[])[first.Stdout, first.Stderr, second.Stdout, second.Stderr])
        {
            Assert.DoesNotContain(token, output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_second_run_takes_tenant_and_subscription_from_the_cache_and_a_stale_subscription_is_listed_again()
    {
        await using var world = await CliWorld.StartAsync(1, withVault: false);
        var first = await world.LatchAsync("keys", "sync", "vm00", "--sync-method", "run-command");
        Assert.True(first.ExitCode == 0, first.ToString());
        var second = await world.LatchAsync("keys", "sync", "vm00", "--sync-method", "run-command", "--verbose");
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.DoesNotContain("openid-configuration", second.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("/subscriptions ->", second.Stderr, StringComparison.Ordinal);

        // the subscription the identity saw an hour ago is gone: the run lists again instead of failing
        var session = Path.Combine(world.Home, ".cache", "latch", "session.json");
        var text = await File.ReadAllTextAsync(session, TestContext.Current.CancellationToken);
        Assert.Contains(CliWorld.Subscription, text, StringComparison.Ordinal);
        await File.WriteAllTextAsync(session, text.Replace(CliWorld.Subscription, "00000000-0000-4000-8000-0000000000ff", StringComparison.Ordinal), TestContext.Current.CancellationToken);
        var third = await world.LatchAsync("keys", "sync", "vm00", "--sync-method", "run-command", "--verbose");
        Assert.True(third.ExitCode == 0, third.ToString());
        Assert.Contains("listing subscriptions again", third.Stderr, StringComparison.Ordinal);
        Assert.Contains(CliWorld.Subscription, await File.ReadAllTextAsync(session, TestContext.Current.CancellationToken), StringComparison.Ordinal);
    }
}
