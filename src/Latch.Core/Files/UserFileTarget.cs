namespace Latch.Core.Files;

/// <summary>
/// A file inside a user's home that root writes on the user's behalf, such as
/// <c>new UserFileTarget("/home/alice", ".ssh/authorized_keys", 1000, 1000)</c>.
/// <paramref name="RelativePath"/> is relative to the home, uses '/' and has no '.' or '..' parts;
/// every directory in it is checked (and created) the way <c>.ssh</c> is.
/// </summary>
public sealed record UserFileTarget(string Home, string RelativePath, uint Uid, uint Gid)
{
    public override string ToString() => $"{Home.TrimEnd('/')}/{RelativePath} (uid {Uid}, gid {Gid})";
}

/// <summary>What <see cref="SafeFile.Update"/> did.</summary>
/// <param name="Changed">The file was replaced with new content.</param>
/// <param name="Created">The file did not exist before this update (its directory may have been created too).</param>
/// <param name="BytesWritten">The size of the new content, or 0 when nothing was written.</param>
public sealed record SafeUpdateResult(bool Changed, bool Created, int BytesWritten);

/// <summary>How <see cref="SafeFile.Update"/> writes.</summary>
public sealed record SafeFileOptions
{
    /// <summary>How long to wait for another writer's lock on the file's directory. Zero tries once;
    /// <see cref="Timeout.InfiniteTimeSpan"/> waits until cancelled.</summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The mode of a written file (default 0600). A rewrite always sets it, so a looser mode an
    /// earlier tool left (0644 from waagent) is tightened. Group/other write bits are refused.</summary>
    public int FileMode { get; init; } = 0b110_000_000;

    /// <summary>The mode of a directory SafeFile creates (default 0700). Existing directories keep theirs.</summary>
    public int DirectoryMode { get; init; } = 0b111_000_000;

    /// <summary>Create missing directories (such as <c>.ssh</c>) owned by the user; otherwise refuse.</summary>
    public bool CreateDirectory { get; init; } = true;

    /// <summary>Refuse to read a current file larger than this (a user can fill their own file).</summary>
    public int MaxFileSize { get; init; } = 16 * 1024 * 1024;

    /// <summary>The clock for the lock deadline.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    internal static SafeFileOptions Default { get; } = new();

    internal void Validate()
    {
        ValidateMode(FileMode, nameof(FileMode));
        ValidateMode(DirectoryMode, nameof(DirectoryMode));
        if (LockTimeout < TimeSpan.Zero && LockTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(LockTimeout), LockTimeout, "LockTimeout must be zero or more, or Timeout.InfiniteTimeSpan.");
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxFileSize);
        ArgumentNullException.ThrowIfNull(TimeProvider);
    }

    private static void ValidateMode(int mode, string name)
    {
        if (mode is < 0 or > 0b111_111_111 || (mode & 0b000_010_010) != 0)
        {
            throw new ArgumentOutOfRangeException(name, $"0{Convert.ToString(mode, 8)}",
                "a mode must be permission bits only (at most 0777) without group or other write, or sshd refuses the file.");
        }
    }
}
