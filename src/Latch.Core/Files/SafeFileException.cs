namespace Latch.Core.Files;

/// <summary>Why SafeFile refused or failed; callers and tests branch on this, people read the message.</summary>
public enum SafeFileFailure
{
    /// <summary>The path given is not acceptable (relative home, '..' in the relative path, empty name).</summary>
    InvalidPath,

    /// <summary>The home directory does not exist.</summary>
    HomeMissing,

    /// <summary>A directory on the way is missing and may not be created (or a system file's parent is missing).</summary>
    DirectoryMissing,

    /// <summary>A symbolic link where SafeFile never follows one.</summary>
    SymlinkRefused,

    /// <summary>Something that must be a directory is not one.</summary>
    NotADirectory,

    /// <summary>The target exists and is not a regular file (directory, FIFO, device, socket).</summary>
    NotARegularFile,

    /// <summary>A directory or file has an owner the rules do not allow.</summary>
    UnsafeOwner,

    /// <summary>A directory is writable by group or others (sshd's StrictModes would refuse it too).</summary>
    UnsafePermissions,

    /// <summary>The target has more than one hard link, so it may be another file in disguise.</summary>
    MultipleHardLinks,

    /// <summary>The current file is larger than <see cref="SafeFileOptions.MaxFileSize"/>.</summary>
    TooLarge,

    /// <summary>Another writer held the directory lock for longer than <see cref="SafeFileOptions.LockTimeout"/>.</summary>
    LockTimeout,

    /// <summary>A system call failed (<see cref="SafeFileException.Errno"/> says which error).</summary>
    IoError,
}

/// <summary>
/// SafeFile refused to touch a file or could not finish; nothing was changed unless a message says otherwise.
/// The message names the path, what is wrong and what to do.
/// </summary>
public sealed class SafeFileException : LatchException
{
    public SafeFileException(SafeFileFailure reason, string path, string message, int errno = 0) : base(message)
    {
        Reason = reason;
        Path = path;
        Errno = errno;
    }

    public SafeFileFailure Reason { get; }

    /// <summary>The file SafeFile was asked to read or write.</summary>
    public string Path { get; } = "";

    /// <summary>The errno of a failed system call, or 0.</summary>
    public int Errno { get; }
}
