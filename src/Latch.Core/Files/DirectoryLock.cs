using Latch.Core.Interop;

namespace Latch.Core.Files;

/// <summary>
/// The writers' advisory lock: flock(LOCK_EX) on the directory that holds the file, taken on the same
/// descriptor the write goes through, so no lock file is ever left behind and a shell script can take
/// the same lock with <c>flock ~/.ssh COMMAND</c>. The lock ends when that descriptor is closed.
/// </summary>
internal static class DirectoryLock
{
    private static readonly TimeSpan s_firstPoll = TimeSpan.FromMilliseconds(2);
    private static readonly TimeSpan s_longestPoll = TimeSpan.FromMilliseconds(50);

    public static void Acquire(SafeFd directory, string path, SafeFileOptions options, SafeFileContext context, CancellationToken cancellationToken)
    {
        var clock = options.TimeProvider;
        var started = clock.GetTimestamp();
        var poll = s_firstPoll;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var errno = Posix.TryLockExclusive(directory, out var acquired);
            if (errno != 0)
            {
                throw context.Failed(errno, "flock", path);
            }

            if (acquired)
            {
                return;
            }

            var wait = poll;
            if (options.LockTimeout != Timeout.InfiniteTimeSpan)
            {
                var left = options.LockTimeout - clock.GetElapsedTime(started);
                if (left <= TimeSpan.Zero)
                {
                    throw context.Refuse(SafeFileFailure.LockTimeout,
                        $"another writer has held the lock on {path} for more than {options.LockTimeout.TotalSeconds:0.###} s",
                        $"find it with 'lslocks' or 'fuser -v {path}', let it finish, and retry");
                }

                wait = left < wait ? left : wait;
            }

            cancellationToken.WaitHandle.WaitOne(wait);
            poll = poll * 2 < s_longestPoll ? poll * 2 : s_longestPoll;
        }
    }
}
