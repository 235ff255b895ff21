using System.Text;
using Latch.Agent.Guard;
using Latch.Agent.KeyStore;
using Microsoft.Extensions.Time.Testing;

namespace Latch.Agent.Tests;

public sealed class AuthorizedKeysCommandTests
{
    private static readonly DateTimeOffset Now = new(2030, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private static (string Stdout, string Stderr) Run(params string[] args)
    {
        var stdout = new MemoryStream();
        var stderr = new StringWriter();
        var code = AuthorizedKeysCommand.Run(args, stdout, stderr, new FakeTimeProvider(Now));
        Assert.Equal(0, code);
        return (Encoding.UTF8.GetString(stdout.ToArray()), stderr.ToString());
    }

    private static KeyStoreFiles Store(TestDirectory dir)
    {
        var store = new KeyStoreFiles(dir.Combine("keys"));
        store.Write(new KeyStoreDocument("alice",
            [
                ManagedKey.Create(GeneratedKeys.Public("akc-valid"), "local", null, null),
                ManagedKey.Create(GeneratedKeys.Public("akc-expiring"), "local", null, Now.AddMinutes(5)),
                ManagedKey.Create(GeneratedKeys.Public("akc-expired"), "local", null, Now.AddSeconds(-1)),
                ManagedKey.Create(GeneratedKeys.Public("akc-future"), "local", Now.AddDays(1), null),
            ],
            [new RetiredKey(GeneratedKeys.Public("akc-retired"), "local", Now.AddDays(-1))]));
        return store;
    }

    [Fact]
    public void Prints_every_valid_key_and_never_an_expired_future_or_retired_one()
    {
        using var dir = new TestDirectory();
        var store = Store(dir);

        var (stdout, _) = Run("--store", store.Directory, "alice");

        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Contains(GeneratedKeys.Public("akc-valid").ToLine(), lines);
        Assert.Contains(lines, l => l.StartsWith("expiry-time=\"20300601120500Z\" ", StringComparison.Ordinal) && l.Contains("akc-expiring", StringComparison.Ordinal));
    }

    [Fact]
    public void Prints_only_the_offered_key_when_sshd_passes_it()
    {
        using var dir = new TestDirectory();
        var store = Store(dir);
        var offered = GeneratedKeys.Public("akc-valid");
        var base64 = Convert.ToBase64String(offered.Blob.Span);

        var byKey = Run("--store", store.Directory, "alice", offered.Sha256Fingerprint, offered.Type, base64).Stdout;
        var byFingerprint = Run("--store", store.Directory, "alice", offered.Sha256Fingerprint).Stdout;
        var other = GeneratedKeys.Public("akc-unknown");
        var unknown = Run("--store", store.Directory, "alice", other.Sha256Fingerprint, other.Type, Convert.ToBase64String(other.Blob.Span)).Stdout;
        var expired = GeneratedKeys.Public("akc-expired");
        var expiredOffered = Run("--store", store.Directory, "alice", expired.Sha256Fingerprint, expired.Type, Convert.ToBase64String(expired.Blob.Span)).Stdout;

        Assert.Equal(offered.ToLine() + "\n", byKey);
        Assert.Equal(offered.ToLine() + "\n", byFingerprint);
        Assert.Equal("", unknown);
        Assert.Equal("", expiredOffered);
    }

    [Fact]
    public void Missing_refused_or_corrupt_store_prints_nothing_and_says_why_on_stderr()
    {
        using var dir = new TestDirectory();
        var store = Store(dir);
        File.SetUnixFileMode(store.PathOf("alice"), (UnixFileMode)0b110_110_110);
        var refused = Run("--store", store.Directory, "alice");
        File.SetUnixFileMode(store.PathOf("alice"), (UnixFileMode)0b110_100_100);
        File.WriteAllText(store.PathOf("alice"), KeyStoreDocument.Header + "\nuser\talice\nkey\tlocal\n");
        var corrupt = Run("--store", store.Directory, "alice");
        var missing = Run("--store", store.Directory, "bob");
        var hostile = Run("--store", store.Directory, "../etc");

        Assert.Equal("", refused.Stdout);
        Assert.Contains("not group/world-writable", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal("", corrupt.Stdout);
        Assert.Contains("corrupt", corrupt.Stderr, StringComparison.Ordinal);
        Assert.Equal("", missing.Stdout);
        Assert.Contains("no managed keys for bob", missing.Stderr, StringComparison.Ordinal);
        Assert.Equal("", hostile.Stdout);
        Assert.Contains("not a valid user name", hostile.Stderr, StringComparison.Ordinal);
    }
}
