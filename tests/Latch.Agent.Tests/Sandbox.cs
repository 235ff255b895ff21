using Latch.Agent.Os;
using Microsoft.Extensions.Logging.Abstractions;

namespace Latch.Agent.Tests;

/// <summary>
/// A throwaway root for <c>--root</c> runs, under the test output directory rather than /tmp: SafeFile (rightly) refuses
/// to write below a world-writable directory such as /tmp.
/// </summary>
internal sealed class Sandbox : IDisposable
{
    public Sandbox()
    {
        var parent = Path.Combine(AppContext.BaseDirectory, "sandboxes");
        Directory.CreateDirectory(parent);
        Root = Path.Combine(parent, Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Root + "/etc/ssh/sshd_config.d");
        Directory.CreateDirectory(Root + "/etc/sudoers.d");
        Directory.CreateDirectory(Root + "/home");
        File.WriteAllText(Root + "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n");
        File.WriteAllText(Root + "/etc/hosts", "127.0.0.1\tlocalhost\n");
        File.WriteAllText(Root + "/etc/hostname", "image\n");
        File.WriteAllText(Root + "/etc/ssh/sshd_config", "Include /etc/ssh/sshd_config.d/*.conf\nUsePAM yes\n");
    }

    public string Root { get; }

    public HostSystem System => new(Root, NullLogger.Instance);

    public string PathOf(string absolute) => Root + absolute;

    public void AddUser(string name, uint uid, string? home = null)
    {
        home ??= "/home/" + name;
        File.AppendAllText(Root + "/etc/passwd", $"{name}:x:{uid}:{uid}::{home}:/bin/bash\n");
    }

    /// <summary>Every file and directory below the root with its size, mode and modification time.</summary>
    public IReadOnlyList<string> Snapshot() =>
        [.. Directory.EnumerateFileSystemEntries(Root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(p =>
        {
            var info = new FileInfo(p);
            var isDirectory = Directory.Exists(p);
            return $"{p[Root.Length..]} {(isDirectory ? "dir" : info.Length.ToString(global::System.Globalization.CultureInfo.InvariantCulture))} {info.UnixFileMode} {info.LastWriteTimeUtc.Ticks} {(isDirectory ? "" : Convert.ToHexString(global::System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(p))))}";
        })];

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
