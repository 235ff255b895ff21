namespace Latch.Cli.Tests.Infrastructure;

/// <summary>
/// Runs a program in a private mount namespace whose /etc is the host's with a VM's own files on top (an
/// emulated VM's passwd), through a read-only overlay: <c>lowerdir=VM_ETC:/etc</c>.
/// </summary>
/// <remarks>
/// Not a bind mount on /etc/passwd: useradd, userdel and apt replace /etc/passwd by rename, and the kernel then
/// detaches every mount on the old file in every namespace. A long-lived sshd fell back to the host's passwd
/// (root's home /root) and refused the key — issue 7's "first login refused" flake, whenever another test
/// (Latch.Core.Tests' TestUser, the rig's users) or an apt run added or removed a user meanwhile. An overlay
/// hangs on the /etc directory, which is never renamed, and its top layer wins over whatever the host does.
/// </remarks>
internal static class PrivateEtc
{
    /// <summary>The command prefix; append the program and its arguments.</summary>
    public static string[] Prefix(string etcDirectory) =>
    [
        "unshare", "--mount", "--propagation", "private", "--",
        "/bin/sh", "-c", "mount -t overlay latch-etc -o \"lowerdir=$1:/etc\" /etc && shift && exec \"$@\"", "sh", etcDirectory,
    ];

    /// <summary>Creates <paramref name="etcDirectory"/> with <paramref name="passwd"/> as its passwd file; returns that file's path.</summary>
    public static string Create(string etcDirectory, string passwd)
    {
        if (etcDirectory.Contains(':', StringComparison.Ordinal) || etcDirectory.Contains(',', StringComparison.Ordinal))
        {
            throw new ArgumentException($"an overlay lowerdir cannot contain ':' or ',': {etcDirectory}", nameof(etcDirectory));
        }

        Directory.CreateDirectory(etcDirectory);
        File.SetUnixFileMode(etcDirectory, (UnixFileMode)Convert.ToInt32("755", 8));
        var path = Path.Combine(etcDirectory, "passwd");
        File.WriteAllText(path, passwd);
        File.SetUnixFileMode(path, (UnixFileMode)Convert.ToInt32("644", 8));
        return path;
    }
}
