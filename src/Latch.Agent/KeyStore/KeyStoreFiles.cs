using Latch.Core.Files;
using Latch.Core.Interop;
using static Latch.Core.Interop.LibcConstants;

namespace Latch.Agent.KeyStore;

/// <summary>How reading a user's store file went.</summary>
internal enum StoreReadStatus
{
    /// <summary>Read and parsed.</summary>
    Ok,

    /// <summary>No store file: the user has no managed keys.</summary>
    Missing,

    /// <summary>The file or a directory above it failed an ownership, mode, type or link check; it was not read.</summary>
    Unsafe,

    /// <summary>The file was read but is not a complete key store.</summary>
    Corrupt,

    /// <summary>A system call failed.</summary>
    Error,
}

/// <summary>The result of reading a store file; <see cref="Problem"/> says what was wrong (never key material).</summary>
internal sealed record StoreRead(StoreReadStatus Status, KeyStoreDocument? Document, string? Problem);

/// <summary>
/// The key store directory (<c>/var/lib/latch/keys</c>): one root-owned file per user, replaced atomically by
/// <see cref="SafeFile.WriteSystemFile"/>, so a reader (the AuthorizedKeysCommand) never waits for a lock and always
/// sees the last complete version. Reads walk from <c>/</c> with O_NOFOLLOW and refuse anything sshd's StrictModes
/// would: a directory or file not owned by root, group/world-writable, a symlink, a hard-linked or non-regular file.
/// </summary>
internal sealed class KeyStoreFiles(string directory)
{
    public const string DefaultDirectory = "/var/lib/latch/keys";
    public const int FileMode = 0b110_100_100;
    private const int MaxFileBytes = 1024 * 1024;

    public string Directory { get; } = directory.TrimEnd('/') is { Length: > 0 } d ? d : "/";

    public string PathOf(string user) => Directory + "/" + user;

    public StoreRead Read(string user)
    {
        if (!KeyStoreDocument.IsValidUserName(user))
        {
            return new StoreRead(StoreReadStatus.Unsafe, null, $"'{Printable(user)}' is not a valid user name");
        }

        var raw = ReadChecked(Directory, user, out var status, out var problem);
        if (raw is null)
        {
            return new StoreRead(status, null, problem);
        }

        return KeyStoreDocument.TryParse(raw, user, out var document, out var error)
            ? new StoreRead(StoreReadStatus.Ok, document, null)
            : new StoreRead(StoreReadStatus.Corrupt, null, $"{PathOf(user)} is corrupt: {error}");
    }

    /// <summary>Replaces the user's store file atomically (root:root 0644; readable by the AuthorizedKeysCommandUser).</summary>
    /// <exception cref="SafeFileException">The directory is unsafe or the write failed; the old file is unchanged.</exception>
    public void Write(KeyStoreDocument document, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(document);
        if (!KeyStoreDocument.IsValidUserName(document.User))
        {
            throw new ArgumentException($"'{Printable(document.User)}' is not a valid user name", nameof(document));
        }

        EnsureDirectory();
        SafeFile.WriteSystemFile(PathOf(document.User), document.Format(), FileMode, cancellationToken);
    }

    /// <summary>Removes the user's store file (no managed keys left and nothing to retire).</summary>
    public void Delete(string user)
    {
        if (KeyStoreDocument.IsValidUserName(user))
        {
            File.Delete(PathOf(user));
        }
    }

    /// <summary>The users with a store file, sorted.</summary>
    public IReadOnlyList<string> Users()
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            return [];
        }

        var users = new List<string>();
        foreach (var path in System.IO.Directory.EnumerateFiles(Directory))
        {
            var name = Path.GetFileName(path);
            if (KeyStoreDocument.IsValidUserName(name))
            {
                users.Add(name);
            }
        }

        users.Sort(StringComparer.Ordinal);
        return users;
    }

    private void EnsureDirectory()
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.CreateDirectory(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
    }

    /// <summary>
    /// The checked read behind <see cref="Read"/>, kept allocation-light for the AuthorizedKeysCommand: null with a
    /// status and problem when the file is missing or refused.
    /// </summary>
    internal static byte[]? ReadChecked(string directory, string name, out StoreReadStatus status, out string? problem)
    {
        status = StoreReadStatus.Error;
        problem = null;
        var errno = Posix.Open("/", O_RDONLY | O_DIRECTORY, out var current);
        if (errno != 0)
        {
            problem = $"cannot open /: {Posix.Describe(errno)}";
            current.Dispose();
            return null;
        }

        try
        {
            var walked = "";
            if (!DirectoryIsSafe(current, "/", out status, out problem))
            {
                return null;
            }

            foreach (var part in directory.Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                walked += "/" + part;
                errno = Posix.OpenAt(current, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, out var next);
                if (errno != 0)
                {
                    next.Dispose();
                    status = errno == ENOENT ? StoreReadStatus.Missing : errno is ELOOP or ENOTDIR ? StoreReadStatus.Unsafe : StoreReadStatus.Error;
                    problem = errno == ENOENT ? $"{walked} does not exist"
                        : errno is ELOOP or ENOTDIR ? $"{walked} is a symbolic link or not a directory; the key store path must be real directories"
                        : $"cannot open {walked}: {Posix.Describe(errno)}";
                    return null;
                }

                current.Dispose();
                current = next;
                if (!DirectoryIsSafe(current, walked, out status, out problem))
                {
                    return null;
                }
            }

            var path = walked + "/" + name;
            errno = Posix.OpenAt(current, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0, out var file);
            using (file)
            {
                if (errno != 0)
                {
                    status = errno == ENOENT ? StoreReadStatus.Missing : errno == ELOOP ? StoreReadStatus.Unsafe : StoreReadStatus.Error;
                    problem = errno == ENOENT ? $"{path} does not exist"
                        : errno == ELOOP ? $"{path} is a symbolic link; refused"
                        : $"cannot open {path}: {Posix.Describe(errno)}";
                    return null;
                }

                errno = Posix.Stat(file, out var stat);
                if (errno != 0)
                {
                    problem = $"cannot fstat {path}: {Posix.Describe(errno)}";
                    return null;
                }

                status = StoreReadStatus.Unsafe;
                if (!stat.IsRegularFile)
                {
                    problem = $"{path} is {stat.Describe()}, not a regular file; refused";
                    return null;
                }

                if (stat.Uid != 0 || stat.IsGroupOrWorldWritable)
                {
                    problem = $"{path} is owned by uid {stat.Uid} with mode {Octal(stat.Permissions)}; a key store file must be owned by root and not group/world-writable; refused (fix: chown root:root {path}; chmod 0644 {path})";
                    return null;
                }

                if (stat.LinkCount != 1)
                {
                    problem = $"{path} has {stat.LinkCount} hard links; refused";
                    return null;
                }

                errno = Posix.ReadAll(file, (int)Math.Min(stat.Size, MaxFileBytes), MaxFileBytes, out var content);
                if (errno != 0)
                {
                    status = StoreReadStatus.Error;
                    problem = errno == 27 ? $"{path} is larger than {MaxFileBytes} bytes; refused" : $"cannot read {path}: {Posix.Describe(errno)}";
                    return null;
                }

                status = StoreReadStatus.Ok;
                return content;
            }
        }
        finally
        {
            current.Dispose();
        }
    }

    private static bool DirectoryIsSafe(SafeFd fd, string path, out StoreReadStatus status, out string? problem)
    {
        var errno = Posix.Stat(fd, out var stat);
        if (errno != 0)
        {
            status = StoreReadStatus.Error;
            problem = $"cannot fstat {path}: {Posix.Describe(errno)}";
            return false;
        }

        if (stat.Uid != 0 || stat.IsGroupOrWorldWritable)
        {
            status = StoreReadStatus.Unsafe;
            problem = $"{path} is owned by uid {stat.Uid} with mode {Octal(stat.Permissions)}; every directory above the key store must be owned by root and not group/world-writable; refused";
            return false;
        }

        status = StoreReadStatus.Ok;
        problem = null;
        return true;
    }

    private static string Octal(uint mode) => "0" + Convert.ToString(mode, 8);

    internal static string Printable(string? text) =>
        text is null ? "" : string.Concat(text.Take(64).Select(c => char.IsControl(c) ? '?' : c));
}
