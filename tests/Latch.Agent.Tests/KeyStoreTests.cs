using System.Text;
using Latch.Agent.Guard;
using Latch.Agent.KeyStore;

namespace Latch.Agent.Tests;

public sealed class KeyStoreTests
{
    private static readonly DateTimeOffset Now = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static KeyStoreDocument Sample() => new("alice",
        [
            ManagedKey.Create(GeneratedKeys.Public("store-a"), "keyvault:latch-vm1-key", null, Now.AddDays(1)),
            ManagedKey.Create(GeneratedKeys.Public("store-b"), "local", Now.AddHours(-1), null),
        ],
        [new RetiredKey(GeneratedKeys.Public("store-c"), "keyvault:old", Now.AddDays(-2))]);

    [Fact]
    public void Store_document_round_trips_keys_sources_times_and_retired_keys()
    {
        var document = Sample();

        Assert.True(KeyStoreDocument.TryParse(document.Format(), "alice", out var parsed, out var error), error);

        Assert.Equal(document.Format(), parsed.Format());
        Assert.Equal(["keyvault:latch-vm1-key", "local"], parsed.Keys.Select(k => k.Source));
        Assert.Equal(Now.AddDays(1), parsed.Keys[0].ExpiresOn);
        Assert.Contains("expiry-time=\"20300102000000Z\"", parsed.Keys[0].Key.ToLine(), StringComparison.Ordinal);
        Assert.Equal(GeneratedKeys.Public("store-c").Identity, Assert.Single(parsed.Retired).Key.Identity);
    }

    [Theory]
    [InlineData("cut")]
    [InlineData("count")]
    [InlineData("user")]
    [InlineData("header")]
    [InlineData("garbage")]
    public void Store_document_that_is_not_complete_is_refused(string damage)
    {
        var text = Encoding.UTF8.GetString(Sample().Format());
        var damaged = damage switch
        {
            "cut" => text[..(text.Length / 2)],
            "count" => text.Replace("end\t4", "end\t3", StringComparison.Ordinal),
            "user" => text.Replace("user\talice", "user\tbob", StringComparison.Ordinal),
            "header" => text.Replace("v1", "v9", StringComparison.Ordinal),
            _ => text.Replace("key\tlocal", "key\tlocal\tx", StringComparison.Ordinal),
        };

        Assert.False(KeyStoreDocument.TryParse(Encoding.UTF8.GetBytes(damaged), "alice", out _, out var error));
        Assert.False(string.IsNullOrEmpty(error));
        var selected = AuthorizedKeysCommand.Select(Encoding.UTF8.GetBytes(damaged), "alice", Now.ToUnixTimeSeconds(), null, null, null, new MemoryStream(), out var printed);
        Assert.NotNull(selected);
        Assert.Equal(0, printed);
    }

    [Theory]
    [InlineData("alice", true)]
    [InlineData("a.b-c_d", true)]
    [InlineData("..", false)]
    [InlineData(".hidden", false)]
    [InlineData("-rf", false)]
    [InlineData("a/b", false)]
    [InlineData("", false)]
    [InlineData("al ice", false)]
    public void User_names_that_could_escape_the_store_directory_are_refused(string user, bool valid) =>
        Assert.Equal(valid, KeyStoreDocument.IsValidUserName(user));

    [Fact]
    public void Store_file_is_written_root_owned_0644_and_read_back()
    {
        using var dir = new TestDirectory();
        var store = new KeyStoreFiles(dir.Combine("keys"));

        store.Write(Sample(), TestContext.Current.CancellationToken);
        var read = store.Read("alice");

        Assert.Equal(StoreReadStatus.Ok, read.Status);
        Assert.Equal(Sample().Format(), read.Document!.Format());
        Assert.Equal((UnixFileMode)0b110_100_100, File.GetUnixFileMode(store.PathOf("alice")));
        Assert.Equal(["alice"], store.Users());
    }

    [Fact]
    public void Group_writable_store_file_is_refused_with_the_fix_in_the_message()
    {
        using var dir = new TestDirectory();
        var store = new KeyStoreFiles(dir.Combine("keys"));
        store.Write(Sample(), TestContext.Current.CancellationToken);
        File.SetUnixFileMode(store.PathOf("alice"), (UnixFileMode)0b110_110_100);

        var read = store.Read("alice");

        Assert.Equal(StoreReadStatus.Unsafe, read.Status);
        Assert.Contains("chmod 0644", read.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Store_file_owned_by_a_user_symlinked_or_hardlinked_is_refused()
    {
        using var dir = new TestDirectory();
        var store = new KeyStoreFiles(dir.Combine("keys"));
        store.Write(Sample(), TestContext.Current.CancellationToken);
        store.Write(Sample() with { User = "bob" }, TestContext.Current.CancellationToken);
        store.Write(Sample() with { User = "carol" }, TestContext.Current.CancellationToken);
        TestDirectory.Chown(store.PathOf("alice"), 4242);
        File.Delete(store.PathOf("bob"));
        File.CreateSymbolicLink(store.PathOf("bob"), store.PathOf("carol"));
        TestDirectory.Run("ln", store.PathOf("carol"), dir.Combine("carol-link"));

        Assert.Equal(StoreReadStatus.Unsafe, store.Read("alice").Status);
        Assert.Equal(StoreReadStatus.Unsafe, store.Read("bob").Status);
        Assert.Contains("hard links", store.Read("carol").Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Store_under_a_world_writable_directory_is_refused()
    {
        using var dir = new TestDirectory();
        var store = new KeyStoreFiles(dir.Combine("keys"));
        store.Write(Sample(), TestContext.Current.CancellationToken);
        File.SetUnixFileMode(dir.Combine("keys"), (UnixFileMode)0b111_111_111);

        var read = store.Read("alice");

        Assert.Equal(StoreReadStatus.Unsafe, read.Status);
        Assert.Contains("every directory above the key store", read.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_store_is_reported_as_missing()
    {
        using var dir = new TestDirectory();

        Assert.Equal(StoreReadStatus.Missing, new KeyStoreFiles(dir.Combine("keys")).Read("nobody").Status);
    }
}
