using System.Buffers;
using System.Security.Cryptography;
using Latch.Core.Interop;
using static Latch.Core.Interop.LibcConstants;

namespace Latch.Core.Files;

/// <summary>
/// Replaces one file in an opened directory: a new temp file (O_EXCL, random name, same directory), the
/// content, fchown, fchmod, fsync, renameat over the target, fsync of the directory. A reader (sshd) sees
/// the old file or the new one, never a partial one, also after a crash or SIGKILL at any point.
/// </summary>
internal static class AtomicReplace
{
    private const string TempMarker = ".latch-";
    private const int TempSuffixLength = 16;
    private static readonly SearchValues<char> s_lowerHex = SearchValues.Create("0123456789abcdef");

    public static void Write(
        SafeFd directory, string directoryPath, string name, ReadOnlySpan<byte> content, uint uid, uint gid, int mode,
        SafeFileContext context, CancellationToken cancellationToken) =>
        Write(directory, directoryPath, name, content, uid, gid, mode, context, stillCurrent: null, cancellationToken);

    /// <summary>
    /// Writes and renames into place; when <paramref name="stillCurrent"/> (asked just before the rename) says the
    /// file changed since it was read, nothing is renamed and the answer is false.
    /// </summary>
    public static bool Write(
        SafeFd directory, string directoryPath, string name, ReadOnlySpan<byte> content, uint uid, uint gid, int mode,
        SafeFileContext context, Func<bool>? stillCurrent, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        RemoveStaleTemps(directory, name);
        var (file, temp) = CreateTemp(directory, directoryPath, name, context);
        var renamed = false;
        try
        {
            using (file)
            {
                Check(Posix.WriteAll(file, content), "write", directoryPath + "/" + temp, context,
                    "the file is unchanged; free some disk space and retry");
                Check(Posix.FChown(file, uid, gid), "fchown", directoryPath + "/" + temp, context);
                Check(Posix.FChmod(file, (uint)mode), "fchmod", directoryPath + "/" + temp, context);
                Check(Posix.FSync(file), "fsync", directoryPath + "/" + temp, context);
            }

            cancellationToken.ThrowIfCancellationRequested();
            if (stillCurrent is not null && !stillCurrent())
            {
                return false;
            }

            Check(Posix.RenameAt(directory, temp, name), "renameat", directoryPath + "/" + name, context);
            renamed = true;
        }
        finally
        {
            if (!renamed)
            {
                _ = Posix.UnlinkAt(directory, temp);
            }
        }

        Check(Posix.FSync(directory), "fsync", directoryPath, context,
            "the new content is in place but may not survive a crash; check the disk and retry");
        return true;
    }

    /// <summary>True for a name this class gives its temp files for <paramref name="target"/>.</summary>
    public static bool IsTempName(string candidate, string target)
    {
        var prefix = "." + target + TempMarker;
        return candidate.Length == prefix.Length + TempSuffixLength
            && candidate.StartsWith(prefix, StringComparison.Ordinal)
            && !candidate.AsSpan(prefix.Length).ContainsAnyExcept(s_lowerHex);
    }

    /// <summary>
    /// A writer killed between creating and renaming its temp file leaves the temp behind; the next
    /// writer (holding the same lock) removes it. Best effort: a failure here never blocks the write.
    /// </summary>
    private static void RemoveStaleTemps(SafeFd directory, string name)
    {
        if (Posix.ListDirectory(directory, out var entries) != 0)
        {
            return;
        }

        foreach (var entry in entries.Where(e => IsTempName(e, name)))
        {
            // unlinkat without AT_REMOVEDIR removes a file or a link, never a directory
            _ = Posix.UnlinkAt(directory, entry);
        }
    }

    private static (SafeFd File, string Name) CreateTemp(SafeFd directory, string directoryPath, string name, SafeFileContext context)
    {
        for (var attempt = 0; ; attempt++)
        {
            var temp = "." + name + TempMarker + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(TempSuffixLength / 2));
            var errno = Posix.OpenAt(directory, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY, 0b110_000_000, out var file);
            if (errno == 0)
            {
                return (file, temp);
            }

            file.Dispose();
            if (errno != EEXIST || attempt == 3)
            {
                throw context.Failed(errno, "openat(O_CREAT|O_EXCL)", directoryPath + "/" + temp,
                    "the file is unchanged; fix the cause and retry");
            }
        }
    }

    private static void Check(int errno, string call, string subject, SafeFileContext context, string remedy = "the file is unchanged; fix the cause and retry")
    {
        if (errno != 0)
        {
            throw context.Failed(errno, call, subject, remedy);
        }
    }
}
