using Latch.Core.Interop;

namespace Latch.Core.Files;

/// <summary>
/// One read or write of one file: builds the exceptions, so every message starts the same way
/// ("refusing to write /home/alice/.ssh/authorized_keys: …") and ends with what to do.
/// </summary>
internal sealed class SafeFileContext(string verb, string path)
{
    public string Path { get; } = path;

    public SafeFileException Refuse(SafeFileFailure reason, string problem, string remedy) =>
        new(reason, Path, $"refusing to {verb} {Path}: {problem}; {remedy}");

    public SafeFileException Failed(int errno, string call, string subject, string remedy = "fix the cause and retry") =>
        new(SafeFileFailure.IoError, Path, $"could not {verb} {Path}: {call} on {subject} failed: {Posix.Describe(errno)}; {remedy}", errno);

    /// <summary>The checks every directory above a home (or above a system file) must pass, as sshd's safe_path.</summary>
    public void RequireRootOwnedDirectory(FileStatus status, string directory)
    {
        RequireDirectory(status, directory);
        if (status.Uid != 0)
        {
            throw Refuse(SafeFileFailure.UnsafeOwner,
                $"{directory} is owned by uid {status.Uid}, but every directory above it must be owned by root (sshd's StrictModes rule)",
                $"run 'chown root {directory}' and retry");
        }

        RequireNotGroupOrWorldWritable(status, directory);
    }

    /// <summary>The checks for a directory the user owns: the home and every directory below it.</summary>
    public void RequireUserOwnedDirectory(FileStatus status, string directory, uint uid)
    {
        RequireDirectory(status, directory);
        if (status.Uid != uid)
        {
            throw Refuse(SafeFileFailure.UnsafeOwner,
                $"{directory} is owned by uid {status.Uid}, not by the user (uid {uid})",
                $"make the user own it ('chown {uid} {directory}') if that is right, and retry");
        }

        RequireNotGroupOrWorldWritable(status, directory);
    }

    public void RequireDirectory(FileStatus status, string directory)
    {
        if (status.IsSymlink)
        {
            throw Refuse(SafeFileFailure.SymlinkRefused,
                $"{directory} is a symbolic link, and Latch follows no symlink there",
                "replace the link with a real directory and retry");
        }

        if (!status.IsDirectory)
        {
            throw Refuse(SafeFileFailure.NotADirectory,
                $"{directory} is {status.Describe()}, not a directory",
                "move it away and retry");
        }
    }

    private void RequireNotGroupOrWorldWritable(FileStatus status, string directory)
    {
        if (status.IsGroupOrWorldWritable)
        {
            throw Refuse(SafeFileFailure.UnsafePermissions,
                $"{directory} is writable by group or others (mode {Octal(status.Permissions)}), so another user could swap files in it",
                $"run 'chmod go-w {directory}' and retry");
        }
    }

    public static string Octal(uint mode) => "0" + Convert.ToString(mode, 8);
}
