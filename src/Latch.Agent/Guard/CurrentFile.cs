using Latch.Core.Interop;
using static Latch.Core.Interop.LibcConstants;

namespace Latch.Agent.Guard;

/// <summary>
/// A read-only descriptor of a user's current authorized_keys, opened the safe way (the home, then .ssh and the file
/// with O_NOFOLLOW, owners checked), kept across a restore so that a write into the replaced inode can be noticed.
/// </summary>
internal static class CurrentFile
{
    public static SafeFd? Open(UserAccount account)
    {
        if (Posix.Open(account.Home, O_RDONLY | O_DIRECTORY, out var home) != 0)
        {
            home.Dispose();
            return null;
        }

        using (home)
        {
            if (Posix.Stat(home, out var homeStatus) != 0 || homeStatus.Uid != account.Uid
                || Posix.OpenAt(home, ".ssh", O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, out var ssh) != 0)
            {
                return null;
            }

            using (ssh)
            {
                if (Posix.Stat(ssh, out var sshStatus) != 0 || sshStatus.Uid != account.Uid
                    || Posix.OpenAt(ssh, "authorized_keys", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0, out var file) != 0)
                {
                    return null;
                }

                if (Posix.Stat(file, out var status) == 0 && status.IsRegularFile && status.LinkCount == 1 && (status.Uid == account.Uid || status.Uid == 0))
                {
                    return file;
                }

                file.Dispose();
                return null;
            }
        }
    }

    /// <summary>The whole content from the descriptor's offset to the end; null on error or over 16 MiB.</summary>
    public static byte[]? ReadAll(SafeFd file) =>
        Posix.ReadAll(file, 4096, 16 * 1024 * 1024, out var content) == 0 ? content : null;
}
