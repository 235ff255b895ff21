using System.Collections.Concurrent;
using Latch.Agent.Guard.Interop;
using Latch.Agent.KeyStore;
using Microsoft.Extensions.Logging;

namespace Latch.Agent.Guard.Watch;

/// <summary>
/// The file guard: watches each managed user's home (for .ssh itself) and ~/.ssh (for authorized_keys being
/// rewritten, truncated, renamed over or deleted) with inotify, plus the key store directory, and after a burst of
/// changes goes quiet (or a bounded delay passes) puts the managed keys back through <see cref="KeyRestorer"/>.
/// A directory watch reports its entries' events, so ~/.ssh's watch covers the file without a watch on the file's
/// inode (which a rename-over would replace); that watch also reports writes into the inode a restore replaced, so
/// a writer that had the file open across the restore gets its lines put back (<see cref="ReplacedFile"/>).
/// Without inotify, or past the watch limit, users are polled instead.
/// One thread runs <see cref="Run"/>; <see cref="RequestCheck"/> may be called from any thread.
/// </summary>
internal sealed class FileGuard : IDisposable
{
    private const uint HomeMask = Inotify.IN_CREATE | Inotify.IN_MOVED_TO | Inotify.IN_MOVED_FROM | Inotify.IN_DELETE | Inotify.IN_ONLYDIR | Inotify.IN_DONT_FOLLOW;
    private const uint SshMask = Inotify.IN_MODIFY | Inotify.IN_CLOSE_WRITE | Inotify.IN_MOVED_TO | Inotify.IN_MOVED_FROM | Inotify.IN_CREATE
        | Inotify.IN_DELETE | Inotify.IN_DELETE_SELF | Inotify.IN_MOVE_SELF | Inotify.IN_ONLYDIR | Inotify.IN_DONT_FOLLOW;
    private const uint StoreMask = Inotify.IN_CLOSE_WRITE | Inotify.IN_MOVED_TO | Inotify.IN_MOVED_FROM | Inotify.IN_DELETE | Inotify.IN_ONLYDIR;

    private readonly KeyStoreFiles _store;
    private readonly UserAccounts _accounts;
    private readonly KeyRestorer _restorer;
    private readonly FileGuardOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, Entry> _users = new(StringComparer.Ordinal);
    private readonly Dictionary<int, (Entry Entry, bool Home)> _watches = [];
    private readonly ConcurrentQueue<(string? User, string Cause, TaskCompletionSource? Done)> _requests = new();
    private readonly List<TaskCompletionSource> _answered = [];
    private readonly Lock _statusGate = new();
    private Inotify? _inotify;
    private int _storeWatch = -1;
    private string? _fallbackReason;
    private long _checks;
    private long _restores;
    private long _refusals;
    private DateTimeOffset? _lastRestore;
    private long _nextFullCheck;
    private FileGuardStatus _status = new("starting", 0, 0, [], null, 0, 0, 0, null);

    public FileGuard(KeyStoreFiles store, UserAccounts accounts, KeyRestorer restorer, FileGuardOptions options, ILogger logger, TimeProvider time)
    {
        _store = store;
        _accounts = accounts;
        _restorer = restorer;
        _options = options;
        _logger = logger;
        _time = time;
    }

    public FileGuardStatus Status
    {
        get
        {
            lock (_statusGate)
            {
                return _status;
            }
        }
    }

    /// <summary>Asks the guard to check one user (null: every managed user) soon, e.g. after the key store changed.</summary>
    public void RequestCheck(string? user, string cause)
    {
        _requests.Enqueue((user, cause, null));
        _inotify?.Wake();
    }

    /// <summary>Checks one user (null: all) now and completes when that check is done.</summary>
    public Task CheckNowAsync(string? user, string cause, CancellationToken cancellationToken = default)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _requests.Enqueue((user, cause, done));
        _inotify?.Wake();
        return done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Runs until cancelled. Returns after the first full check when <paramref name="started"/> is signalled.</summary>
    public void Run(CancellationToken cancellationToken, ManualResetEventSlim? started = null)
    {
        try
        {
            RunLoop(cancellationToken, started);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // stopping mid-check: SafeFile renames only complete files, so nothing is left half-written
        }
    }

    private void RunLoop(CancellationToken cancellationToken, ManualResetEventSlim? started)
    {
        var errno = Inotify.Create(out _inotify);
        if (errno != 0)
        {
            _fallbackReason = $"inotify_init1 failed: {Latch.Core.Interop.Posix.Describe(errno)}";
        }
        else
        {
            _storeWatch = _inotify!.AddWatch(_store.Directory, StoreMask);
        }

        foreach (var user in _store.Users())
        {
            Track(user);
        }

        foreach (var entry in _users.Values.ToList())
        {
            Check(entry, "startup", cancellationToken);
        }

        GuardLog.Watching(_logger, _users.Count, _watches.Count);
        _nextFullCheck = _time.GetTimestamp();
        PublishStatus();
        started?.Set();

        // a stop wakes the wait at once, so the loop sleeps until there is something to do (an event, a request, a due
        // check): an idle daemon runs no code and faults no page back in
        using var stopping = cancellationToken.Register(() => _inotify?.Wake());
        while (!cancellationToken.IsCancellationRequested)
        {
            var wait = NextWait();
            var events = _inotify is null ? WaitWithoutInotify(wait, cancellationToken) : _inotify.Wait(wait);
            var now = _time.GetTimestamp();
            foreach (var e in events)
            {
                Handle(e, now);
            }

            while (_requests.TryDequeue(out var request))
            {
                if (request.Done is { } done)
                {
                    _answered.Add(done);
                }

                if (request.User is null)
                {
                    foreach (var user in _store.Users())
                    {
                        Track(user);
                    }

                    foreach (var entry in _users.Values)
                    {
                        entry.Mark(now, request.Cause);
                    }
                }
                else if (Track(request.User) is { } entry)
                {
                    entry.Mark(now, request.Cause);
                }
            }

            if (_answered.Count > 0)
            {
                // an explicit request is answered at once, without the debounce window
                foreach (var entry in _users.Values.Where(u => u.FirstChange is not null).ToList())
                {
                    Check(entry, entry.Cause ?? "request", cancellationToken);
                }

                _answered.ForEach(d => d.TrySetResult());
                _answered.Clear();
            }

            if (Elapsed(_nextFullCheck, now) >= TimeSpan.Zero)
            {
                var polling = _inotify is null;
                foreach (var entry in _users.Values.Where(u => polling || u.Polling || Elapsed(u.LastFullCheck, now) >= _options.FullCheckInterval))
                {
                    entry.Mark(now, "periodic check");
                    entry.LastFullCheck = now;
                }

                _nextFullCheck = now + Ticks(PollPeriod());
            }

            foreach (var entry in _users.Values)
            {
                entry.ReleaseReplaced(now);
            }

            foreach (var entry in _users.Values.Where(u => u.IsDue(now, _options, _time)).ToList())
            {
                if (BeingWritten(entry, now))
                {
                    entry.Defer(now);
                    continue;
                }

                Check(entry, entry.Cause ?? "change", cancellationToken);
            }

            PublishStatus();
        }
    }

    /// <summary>
    /// True while authorized_keys was modified within the quiet window (and the first change is younger than
    /// <see cref="FileGuardOptions.MaxDefer"/>): its writer may be between truncating and writing it.
    /// </summary>
    private bool BeingWritten(Entry entry, long now)
    {
        if (entry.FirstChange is not { } first || Elapsed(first, now) >= _options.MaxDefer || _accounts.Find(entry.Name) is not { } account)
        {
            return false;
        }

        var errno = Latch.Core.Interop.Posix.Open(account.Home.TrimEnd('/') + "/.ssh", Latch.Core.Interop.LibcConstants.O_RDONLY | Latch.Core.Interop.LibcConstants.O_DIRECTORY | Latch.Core.Interop.LibcConstants.O_NOFOLLOW, out var ssh);
        using (ssh)
        {
            if (errno != 0 || Latch.Core.Interop.Posix.StatAt(ssh, "authorized_keys", out var status) != 0)
            {
                return false;
            }

            var modified = DateTimeOffset.FromUnixTimeSeconds(status.MTimeSeconds).AddTicks(status.MTimeNanoseconds / 100);
            return _time.GetUtcNow() - modified < _options.QuietWindow;
        }
    }

    private TimeSpan PollPeriod() =>
        _inotify is null || _users.Values.Any(u => u.Polling) ? _options.PollInterval : TimeSpan.FromSeconds(Math.Min(_options.FullCheckInterval.TotalSeconds, 60));

    private TimeSpan NextWait()
    {
        var now = _time.GetTimestamp();
        var wait = -Elapsed(_nextFullCheck, now);
        foreach (var entry in _users.Values)
        {
            if (entry.DueAt(_options, _time) is { } due)
            {
                var left = -Elapsed(due, now);
                wait = left < wait ? left : wait;
            }
        }

        return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
    }

    private static List<InotifyEvent> WaitWithoutInotify(TimeSpan wait, CancellationToken cancellationToken)
    {
        cancellationToken.WaitHandle.WaitOne(wait < TimeSpan.FromMilliseconds(250) ? wait : TimeSpan.FromMilliseconds(250));
        return [];
    }

    private void Handle(InotifyEvent e, long now)
    {
        if (e.Is(Inotify.IN_Q_OVERFLOW))
        {
            foreach (var entry in _users.Values)
            {
                entry.Mark(now, "inotify queue overflow");
            }

            return;
        }

        if (e.Watch == _storeWatch)
        {
            if (KeyStoreDocument.IsValidUserName(e.Name) && Track(e.Name) is { } changed)
            {
                changed.Mark(now, "key store changed");
            }

            return;
        }

        if (!_watches.TryGetValue(e.Watch, out var watch))
        {
            return;
        }

        var (user, home) = watch;
        if (e.Is(Inotify.IN_IGNORED))
        {
            _watches.Remove(e.Watch);
            if (home)
            {
                user.HomeWatch = -1;
            }
            else
            {
                user.SshWatch = -1;
            }

            user.Mark(now, ".ssh removed");
            return;
        }

        if (home)
        {
            if (e.Name == ".ssh")
            {
                user.Mark(now, e.Is(Inotify.IN_DELETE | Inotify.IN_MOVED_FROM) ? ".ssh deleted or moved away" : ".ssh replaced");
            }

            return;
        }

        if (e.Is(Inotify.IN_DELETE_SELF | Inotify.IN_MOVE_SELF))
        {
            user.Mark(now, ".ssh deleted or moved away");
        }
        else if (e.Name == "authorized_keys")
        {
            user.Mark(now, e.Is(Inotify.IN_DELETE | Inotify.IN_MOVED_FROM) ? "authorized_keys deleted"
                : e.Is(Inotify.IN_MOVED_TO | Inotify.IN_CREATE) ? "authorized_keys replaced"
                : "authorized_keys rewritten");
        }
    }

    /// <summary>Starts tracking a user with a store file (or drops one whose store file went away).</summary>
    private Entry? Track(string user)
    {
        if (!File.Exists(_store.PathOf(user)))
        {
            if (_users.Remove(user, out var gone))
            {
                Unwatch(gone);
                gone.ReleaseReplaced(long.MaxValue);
            }

            return null;
        }

        if (!_users.TryGetValue(user, out var entry))
        {
            entry = new Entry(user) { LastFullCheck = _time.GetTimestamp() };
            _users[user] = entry;
        }

        return entry;
    }

    private void Check(Entry entry, string cause, CancellationToken cancellationToken)
    {
        entry.Clear();
        Interlocked.Increment(ref _checks);
        var read = _store.Read(entry.Name);
        if (read.Status == StoreReadStatus.Missing)
        {
            _users.Remove(entry.Name);
            Unwatch(entry);
            entry.ReleaseReplaced(long.MaxValue);
            return;
        }

        if (read.Document is null)
        {
            // fail safe: an unusable store changes nothing in authorized_keys
            GuardLog.StoreUnusable(_logger, entry.Name, read.Problem ?? read.Status.ToString());
            return;
        }

        var account = _accounts.Find(entry.Name);
        if (account is null)
        {
            if (!entry.WarnedUnknown)
            {
                GuardLog.UnknownUser(_logger, entry.Name);
                entry.WarnedUnknown = true;
            }

            return;
        }

        // watch before acting: a write that lands between the restore and a later watch would go unseen
        EnsureWatches(entry, account);
        var outcome = _restorer.Restore(account, read.Document, cause, entry.Replaced, out var replaced, cancellationToken);
        if (replaced is not null)
        {
            entry.Hold(replaced);
        }

        if (outcome.Changed)
        {
            Interlocked.Increment(ref _restores);
            _lastRestore = _time.GetUtcNow();
        }
        else if (outcome.Refused is not null)
        {
            Interlocked.Increment(ref _refusals);
        }

        // again: the restore may have created .ssh, which needs its own watch
        EnsureWatches(entry, account);
    }

    private void EnsureWatches(Entry entry, UserAccount account)
    {
        if (_inotify is null)
        {
            entry.Polling = true;
            return;
        }

        if (entry.HomeWatch < 0)
        {
            entry.HomeWatch = Add(entry, account.Home, HomeMask, home: true);
        }

        // re-adding an existing watch is cheap and also catches a .ssh that was replaced since
        var ssh = Add(entry, account.Home.TrimEnd('/') + "/.ssh", SshMask, home: false);
        if (ssh != entry.SshWatch && entry.SshWatch >= 0)
        {
            _watches.Remove(entry.SshWatch);
            _inotify.RemoveWatch(entry.SshWatch);
        }

        entry.SshWatch = ssh;
    }

    private int Add(Entry entry, string path, uint mask, bool home)
    {
        if (_watches.Count >= _options.MaxWatches)
        {
            Fallback(entry, $"the configured limit of {_options.MaxWatches} watches (guard.max_watches) is reached");
            return -1;
        }

        var wd = _inotify!.AddWatch(path, mask);
        if (wd >= 0)
        {
            _watches[wd] = (entry, home);
            return wd;
        }

        if (-wd is Inotify.ENOSPC or Inotify.EMFILE)
        {
            Fallback(entry, "inotify watches are exhausted (fs.inotify.max_user_watches)");
        }

        // ENOENT (no .ssh yet) or ENOTDIR (a symlink): the home watch sees it appear
        return -1;
    }

    private void Fallback(Entry entry, string reason)
    {
        if (!entry.Polling)
        {
            entry.Polling = true;
            _fallbackReason = reason;
            GuardLog.PollingFallback(_logger, entry.Name, reason, _options.PollInterval.TotalSeconds);
        }
    }

    private void Unwatch(Entry entry)
    {
        foreach (var wd in new[] { entry.HomeWatch, entry.SshWatch }.Where(w => w >= 0))
        {
            _watches.Remove(wd);
            _inotify?.RemoveWatch(wd);
        }

        entry.HomeWatch = entry.SshWatch = -1;
    }

    private void PublishStatus()
    {
        var polled = _users.Values.Where(u => u.Polling || _inotify is null).Select(u => u.Name).Order(StringComparer.Ordinal).ToList();
        var mode = _inotify is null ? "polling" : polled.Count > 0 ? "inotify+polling" : "inotify";
        var status = new FileGuardStatus(mode, _users.Count, _watches.Count, polled, _fallbackReason,
            Interlocked.Read(ref _checks), Interlocked.Read(ref _restores), Interlocked.Read(ref _refusals), _lastRestore);
        lock (_statusGate)
        {
            _status = status;
        }
    }

    private TimeSpan Elapsed(long from, long to) => _time.GetElapsedTime(from, to);

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * _time.TimestampFrequency);

    public void Dispose()
    {
        foreach (var entry in _users.Values)
        {
            entry.ReleaseReplaced(long.MaxValue);
        }

        _inotify?.Dispose();
    }

    private sealed class Entry(string name)
    {
        public string Name { get; } = name;

        public int HomeWatch { get; set; } = -1;

        public int SshWatch { get; set; } = -1;

        public bool Polling { get; set; }

        public bool WarnedUnknown { get; set; }

        public long LastFullCheck { get; set; }

        public long? FirstChange { get; private set; }

        public long LastChange { get; private set; }

        public string? Cause { get; private set; }

        /// <summary>The inode the last restore replaced, watched for a late in-place write until it is released.</summary>
        public ReplacedFile? Replaced { get; private set; }

        public void Hold(ReplacedFile replaced)
        {
            if (!ReferenceEquals(replaced, Replaced))
            {
                Replaced?.Dispose();
                Replaced = replaced;
            }
        }

        /// <summary>Lets go of the replaced inode once its late-write window has passed at <paramref name="now"/>.</summary>
        public void ReleaseReplaced(long now)
        {
            if (Replaced is { } replaced && now >= replaced.HeldUntil)
            {
                replaced.Dispose();
                Replaced = null;
            }
        }

        public void Mark(long now, string cause)
        {
            FirstChange ??= now;
            LastChange = now;
            Cause = Cause is null || Cause == cause ? cause : Cause.Contains(cause, StringComparison.Ordinal) ? Cause : Cause + "; " + cause;
        }

        /// <summary>Waits one more quiet window (the MaxDelay bound no longer applies; MaxDefer does).</summary>
        public void Defer(long now)
        {
            LastChange = now;
            Deferred = true;
        }

        public bool Deferred { get; private set; }

        public void Clear()
        {
            FirstChange = null;
            Cause = null;
            Deferred = false;
        }

        public long? DueAt(FileGuardOptions options, TimeProvider time)
        {
            if (FirstChange is not { } first)
            {
                return null;
            }

            var quiet = LastChange + (long)(options.QuietWindow.TotalSeconds * time.TimestampFrequency);
            var bounded = first + (long)(options.MaxDelay.TotalSeconds * time.TimestampFrequency);
            return Deferred ? quiet : Math.Min(quiet, bounded);
        }

        public bool IsDue(long now, FileGuardOptions options, TimeProvider time) => DueAt(options, time) is { } due && now >= due;
    }
}
