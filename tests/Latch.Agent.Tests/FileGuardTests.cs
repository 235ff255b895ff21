using System.Text;
using Latch.Agent.Guard;
using Latch.Agent.Guard.Watch;
using Latch.Agent.KeyStore;
using Microsoft.Extensions.Logging;

namespace Latch.Agent.Tests;

public sealed class FileGuardTests : IDisposable
{
    private const uint Uid = 24601;
    private readonly TestDirectory _dir = new();
    private readonly UserAccount _alice;
    private readonly KeyStoreFiles _store;
    private readonly StringWriter _log = new();
    private readonly string _managed = GeneratedKeys.Make("guard-managed").PublicLine;
    private readonly string _own = GeneratedKeys.Make("guard-own").PublicLine;
    private readonly string _hostile = GeneratedKeys.Make("guard-hostile").PublicLine;

    public FileGuardTests()
    {
        _alice = _dir.Home("alice", Uid);
        _store = new KeyStoreFiles(_dir.Combine("keys"));
        _store.Write(new KeyStoreDocument("alice", [ManagedKey.Create(GeneratedKeys.Public("guard-managed"), "local", null, null)], []), TestContext.Current.CancellationToken);
    }

    private string AuthorizedKeys => _alice.Home + "/.ssh/authorized_keys";

    private string AuditPath => _dir.Combine("log/audit.jsonl");

    private KeyRestorer Restorer() => new(new AuditLog(AuditPath), Latch.Agent.Logging.StderrLogger.Create(Microsoft.Extensions.Logging.LogLevel.Information, _log), TimeProvider.System);

    private (FileGuard Guard, Task Run, CancellationTokenSource Stop) Start(FileGuardOptions? options = null)
    {
        var guard = new FileGuard(_store, new UserAccounts(_dir.PasswdPath), Restorer(), options ?? new FileGuardOptions(), Latch.Agent.Logging.StderrLogger.Create(Microsoft.Extensions.Logging.LogLevel.Information, _log), TimeProvider.System);
        var stop = new CancellationTokenSource();
        using var started = new ManualResetEventSlim();
        var run = Task.Factory.StartNew(() => guard.Run(stop.Token, started), TaskCreationOptions.LongRunning);
        Assert.True(started.Wait(TimeSpan.FromSeconds(30)), "the guard did not start: " + _log);
        return (guard, run, stop);
    }

    private static async Task Stop((FileGuard Guard, Task Run, CancellationTokenSource Stop) running)
    {
        await running.Stop.CancelAsync();
        await running.Run.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        running.Guard.Dispose();
        running.Stop.Dispose();
    }

    private async Task<string> EventuallyAsync(Func<string?, bool> condition, string what)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        string? content = null;
        while (!deadline.IsCancellationRequested)
        {
            content = File.Exists(AuthorizedKeys) ? await File.ReadAllTextAsync(AuthorizedKeys, TestContext.Current.CancellationToken) : null;
            if (condition(content))
            {
                return content!;
            }

            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        Assert.Fail($"{what} did not happen within the deadline; authorized_keys:\n{content}\nlog:\n{_log}");
        return "";
    }

    private void WriteAsUser(string path, string text)
    {
        File.WriteAllText(path, text);
        TestDirectory.Chown(path, Uid);
    }

    [Fact]
    public void Restorer_appends_missing_managed_keys_and_keeps_the_users_own_lines_in_order()
    {
        Directory.CreateDirectory(_alice.Home + "/.ssh");
        TestDirectory.Chown(_alice.Home + "/.ssh", Uid);
        WriteAsUser(AuthorizedKeys, "# mine\n" + _own + "\nnot a key at all\n");

        var outcome = Restorer().Restore(_alice, _store.Read("alice").Document!, "test", TestContext.Current.CancellationToken);

        Assert.True(outcome.Changed);
        Assert.Equal("# mine\n" + _own + "\nnot a key at all\n" + _managed + "\n", File.ReadAllText(AuthorizedKeys));
        var audit = File.ReadAllText(AuditPath);
        Assert.Contains("\"user\":\"alice\"", audit, StringComparison.Ordinal);
        Assert.Contains(GeneratedKeys.Public("guard-managed").Sha256Fingerprint, audit, StringComparison.Ordinal);
        Assert.Equal((UnixFileMode)0b110_000_000, File.GetUnixFileMode(AuditPath));
        Assert.False(Restorer().Restore(_alice, _store.Read("alice").Document!, "again", TestContext.Current.CancellationToken).Changed);
    }

    [Fact]
    public void Restorer_removes_retired_and_expired_managed_keys_but_never_the_users_own()
    {
        var retired = GeneratedKeys.Make("guard-retired").PublicLine;
        var expired = GeneratedKeys.Make("guard-expired").PublicLine;
        _store.Write(new KeyStoreDocument("alice",
            [
                ManagedKey.Create(GeneratedKeys.Public("guard-managed"), "local", null, null),
                ManagedKey.Create(GeneratedKeys.Public("guard-expired"), "local", null, DateTimeOffset.UnixEpoch.AddYears(40)),
            ],
            [new RetiredKey(GeneratedKeys.Public("guard-retired"), "local", DateTimeOffset.UnixEpoch)]), TestContext.Current.CancellationToken);
        Directory.CreateDirectory(_alice.Home + "/.ssh");
        TestDirectory.Chown(_alice.Home + "/.ssh", Uid);
        WriteAsUser(AuthorizedKeys, retired + "\n" + _own + "\n" + expired + "\n");

        Restorer().Restore(_alice, _store.Read("alice").Document!, "test", TestContext.Current.CancellationToken);

        Assert.Equal(_own + "\n" + _managed + "\n", File.ReadAllText(AuthorizedKeys));
    }

    /// <summary>alice's authorized_keys with her own key, opened by a writer that truncated it and has not written yet.</summary>
    private FileStream OpenTruncatingWriter()
    {
        Directory.CreateDirectory(_alice.Home + "/.ssh");
        TestDirectory.Chown(_alice.Home + "/.ssh", Uid);
        WriteAsUser(AuthorizedKeys, _own + "\n");
        return new FileStream(AuthorizedKeys, FileMode.Truncate, FileAccess.Write);
    }

    [Fact]
    public void A_writer_that_truncated_before_a_restore_and_wrote_after_it_gets_its_lines_put_back()
    {
        // the writer opens with O_TRUNC, the restore reads the empty file and renames a new one over it, then the
        // writer writes into the inode it still has open
        var (restorer, store) = (Restorer(), _store.Read("alice").Document!);
        using (var writer = OpenTruncatingWriter())
        {
            var first = restorer.Restore(_alice, store, "test", held: null, out var replaced, TestContext.Current.CancellationToken);
            using (replaced)
            {
                Assert.True(first.Changed);
                Assert.NotNull(replaced);
                Assert.Equal(_managed + "\n", File.ReadAllText(AuthorizedKeys));
                writer.Write(Encoding.ASCII.GetBytes(_hostile + "\n"));
                writer.Flush();

                var late = restorer.Restore(_alice, store, "late write", replaced, out var again, TestContext.Current.CancellationToken);
                again?.Dispose();
                Assert.True(late.Changed);
            }
        }

        Assert.Equal(_hostile + "\n" + _managed + "\n", File.ReadAllText(AuthorizedKeys));
        Assert.Contains("rewritten in place", _log.ToString(), StringComparison.Ordinal);
        Assert.Contains("\"cause\":\"late write\"", File.ReadAllText(AuditPath), StringComparison.Ordinal);
    }

    [Fact]
    public void A_late_write_is_not_put_back_over_a_file_someone_replaced_since()
    {
        var (restorer, store) = (Restorer(), _store.Read("alice").Document!);
        using var writer = OpenTruncatingWriter();
        restorer.Restore(_alice, store, "test", held: null, out var replaced, TestContext.Current.CancellationToken);
        using (replaced)
        {
            writer.Write(Encoding.ASCII.GetBytes(_hostile + "\n"));
            writer.Flush();
            WriteAsUser(AuthorizedKeys + ".new", _own + "\n" + _managed + "\n");
            File.Move(AuthorizedKeys + ".new", AuthorizedKeys, overwrite: true);

            var late = restorer.Restore(_alice, store, "late write", replaced, out var again, TestContext.Current.CancellationToken);
            again?.Dispose();
            Assert.False(late.Changed);
        }

        Assert.Equal(_own + "\n" + _managed + "\n", File.ReadAllText(AuthorizedKeys));
    }

    [Fact]
    public async Task The_guard_puts_back_a_slow_in_place_writers_lines_that_landed_after_its_restore()
    {
        Directory.CreateDirectory(_alice.Home + "/.ssh");
        TestDirectory.Chown(_alice.Home + "/.ssh", Uid);
        WriteAsUser(AuthorizedKeys, _own + "\n" + _managed + "\n");
        var running = Start(new FileGuardOptions { MaxDefer = TimeSpan.FromMilliseconds(50) });
        try
        {
            // a writer that stalls between truncating and writing for longer than the guard defers to it
            using (var writer = new FileStream(AuthorizedKeys, FileMode.Truncate, FileAccess.Write))
            {
                await EventuallyAsync(c => c == _managed + "\n", "the restore while the writer stalls");
                writer.Write(Encoding.ASCII.GetBytes(_hostile + "\n"));
            }

            await EventuallyAsync(c => c == _hostile + "\n" + _managed + "\n", "the stalled writer's line put back");
        }
        finally
        {
            await Stop(running);
        }
    }

    [Fact]
    public async Task Restores_managed_key_after_overwrite_truncate_rename_and_delete()
    {
        var running = Start();
        try
        {
            await EventuallyAsync(c => c is not null && c.Contains(_managed, StringComparison.Ordinal), "the first restore (no .ssh yet)");

            WriteAsUser(AuthorizedKeys, _hostile + "\n");
            await EventuallyAsync(c => c!.Contains(_managed, StringComparison.Ordinal) && c.Contains(_hostile, StringComparison.Ordinal), "restore after overwrite");

            File.WriteAllText(AuthorizedKeys, "");
            await EventuallyAsync(c => c!.Contains(_managed, StringComparison.Ordinal), "restore after truncation");

            WriteAsUser(AuthorizedKeys + ".new", _own + "\n");
            File.Move(AuthorizedKeys + ".new", AuthorizedKeys, overwrite: true);
            await EventuallyAsync(c => c!.Contains(_managed, StringComparison.Ordinal) && c.StartsWith(_own, StringComparison.Ordinal), "restore after rename over");

            File.Delete(AuthorizedKeys);
            await EventuallyAsync(c => c is not null && c.Contains(_managed, StringComparison.Ordinal), "restore after delete");

            // the guard may put authorized_keys back between the recursive delete's listing and its rmdir: try again
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    Directory.Delete(_alice.Home + "/.ssh", recursive: true);
                    break;
                }
                catch (IOException) when (attempt < 50 && Directory.Exists(_alice.Home + "/.ssh"))
                {
                }
            }

            await EventuallyAsync(c => c is not null && c.Contains(_managed, StringComparison.Ordinal), "restore after .ssh was deleted");
            WriteAsUser(AuthorizedKeys, _hostile + "\n");
            await EventuallyAsync(c => c!.Contains(_managed, StringComparison.Ordinal), "restore in the recreated .ssh");
        }
        finally
        {
            await Stop(running);
        }
    }

    [Fact]
    public async Task A_storm_of_rewrites_ends_with_the_managed_key_and_the_storms_own_key_present()
    {
        var running = Start();
        try
        {
            await EventuallyAsync(c => c is not null && c.Contains(_managed, StringComparison.Ordinal), "the first restore");
            for (var i = 0; i < 300; i++)
            {
                WriteAsUser(AuthorizedKeys, _hostile + "\n");
                await Task.Delay(2, TestContext.Current.CancellationToken);
            }

            // the last rewrite may land in an inode the guard just replaced; the guard then puts its line back
            await EventuallyAsync(c => c!.Contains(_managed, StringComparison.Ordinal) && c.Contains(_hostile, StringComparison.Ordinal), "the managed key and the storm's own key after the storm");
        }
        finally
        {
            await Stop(running);
        }
    }

    [Fact]
    public async Task Symlinked_ssh_directory_is_refused_logged_and_nothing_outside_the_home_is_written()
    {
        var standIn = _dir.RootDirectory("standin");
        File.WriteAllText(standIn + "/authorized_keys", "root's stand-in\n");
        var running = Start();
        try
        {
            await EventuallyAsync(c => c is not null && c.Contains(_managed, StringComparison.Ordinal), "the first restore");
            // the guard recreates a deleted .ssh at once, so the swap may take a few tries
            for (var attempt = 0; ; attempt++)
            {
                if (Directory.Exists(_alice.Home + "/.ssh") && !File.Exists(_alice.Home + "/.ssh"))
                {
                    Directory.Delete(_alice.Home + "/.ssh", recursive: true);
                }

                try
                {
                    File.CreateSymbolicLink(_alice.Home + "/.ssh", standIn);
                    break;
                }
                catch (IOException) when (attempt < 50)
                {
                }
            }

            TestDirectory.Chown(_alice.Home + "/.ssh", Uid);

            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (!_log.ToString().Contains("symbolic link", StringComparison.Ordinal) && !deadline.IsCancellationRequested)
            {
                await Task.Delay(10, TestContext.Current.CancellationToken);
            }

            Assert.Contains("refused to restore keys for alice", _log.ToString(), StringComparison.Ordinal);
            Assert.Equal("root's stand-in\n", File.ReadAllText(standIn + "/authorized_keys"));
            Assert.Single(Directory.GetFiles(standIn));
            Assert.Contains("\"action\":\"refused\"", File.ReadAllText(AuditPath), StringComparison.Ordinal);

            // the guard keeps watching: a real .ssh again is restored
            File.Delete(_alice.Home + "/.ssh");
            await EventuallyAsync(c => c is not null && c.Contains(_managed, StringComparison.Ordinal), "restore once .ssh is a directory again");
        }
        finally
        {
            await Stop(running);
        }
    }

    [Fact]
    public async Task Hardlinked_authorized_keys_is_refused_and_its_other_name_is_untouched()
    {
        var running = Start();
        try
        {
            await EventuallyAsync(c => c is not null && c.Contains(_managed, StringComparison.Ordinal), "the first restore");
            var outside = _dir.Combine("outside");
            WriteAsUser(outside, "someone else's file\n");
            // swapped in by one rename: with delete-then-link the guard could restore into the gap and win
            var swap = AuthorizedKeys + ".swap";
            TestDirectory.Run("ln", outside, swap);
            File.Move(swap, AuthorizedKeys, overwrite: true);

            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (!_log.ToString().Contains("hard links", StringComparison.Ordinal) && !deadline.IsCancellationRequested)
            {
                await Task.Delay(10, TestContext.Current.CancellationToken);
            }

            Assert.Contains("hard links", _log.ToString(), StringComparison.Ordinal);
            Assert.Equal("someone else's file\n", File.ReadAllText(outside));
        }
        finally
        {
            await Stop(running);
        }
    }

    [Fact]
    public async Task Past_the_watch_limit_the_guard_polls_and_says_so()
    {
        var running = Start(new FileGuardOptions { MaxWatches = 1, PollInterval = TimeSpan.FromSeconds(1) });
        try
        {
            await EventuallyAsync(c => c is not null && c.Contains(_managed, StringComparison.Ordinal), "the first restore");
            Assert.Contains("alice", running.Guard.Status.PolledUsers);
            Assert.Contains("guard.max_watches", running.Guard.Status.FallbackReason, StringComparison.Ordinal);
            Assert.Contains("checking every 1 s instead", _log.ToString(), StringComparison.Ordinal);

            WriteAsUser(AuthorizedKeys, _hostile + "\n");
            await EventuallyAsync(c => c!.Contains(_managed, StringComparison.Ordinal), "restore by polling");
        }
        finally
        {
            await Stop(running);
        }
    }

    [Fact]
    public async Task A_new_key_in_the_store_reaches_authorized_keys_without_a_request()
    {
        var running = Start();
        try
        {
            await EventuallyAsync(c => c is not null && c.Contains(_managed, StringComparison.Ordinal), "the first restore");
            var added = GeneratedKeys.Make("guard-added").PublicLine;
            _store.Write(new KeyStoreDocument("alice",
                [ManagedKey.Create(GeneratedKeys.Public("guard-managed"), "local", null, null), ManagedKey.Create(GeneratedKeys.Public("guard-added"), "local", null, null)], []), TestContext.Current.CancellationToken);

            await EventuallyAsync(c => c!.Contains(added, StringComparison.Ordinal), "the added key");
        }
        finally
        {
            await Stop(running);
        }
    }

    public void Dispose()
    {
        _dir.Dispose();
        _log.Dispose();
    }
}
