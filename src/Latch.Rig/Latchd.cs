using System.Security.Cryptography;
using System.Text;

namespace Latch.Rig;

/// <summary>
/// latchd as it ships: the NativeAOT binaries (latchd, latch-akc, latchd-guard), published once per source state into
/// /var/cache/latch/latchd/HASH/ (HASH covers their sources, Core's and Azure's and the build props), then copied
/// into a VM's rootfs and run there. A publish that prints an IL2xxx/IL3xxx (trim/AOT) warning fails.
/// </summary>
internal static class Latchd
{
    public const string VmPath = "/usr/local/sbin/latchd";
    private const string CacheRoot = "/var/cache/latch/latchd";

    /// <summary>latchd-guard's path in a VM: next to latchd, where <c>latchd run</c> looks for it after Ready.</summary>
    public const string GuardImageVmPath = "/usr/local/sbin/latchd-guard";

    /// <summary>The NativeAOT programs published together (src project, file name), latchd first.</summary>
    private static readonly (string Project, string Name)[] Images = [("Latch.Agent", "latchd"), ("Latch.Akc", "latch-akc"), ("Latch.AgentGuard", "latchd-guard")];
    private static readonly SemaphoreSlim s_gate = new(1, 1);

    /// <summary>The published binary (publishing it first when the sources changed).</summary>
    public static async Task<string> EnsurePublishedAsync(CancellationToken cancellationToken = default)
    {
        var directory = Path.Combine(CacheRoot, SourceHash());
        var binary = Path.Combine(directory, "latchd");
        if (File.Exists(binary))
        {
            return binary;
        }

        await s_gate.WaitAsync(cancellationToken);
        try
        {
            Directory.CreateDirectory(CacheRoot);
            // other test processes publish into the same cache: one at a time (flock through FileShare.None)
            using var cacheLock = await LockAsync(Path.Combine(CacheRoot, ".lock"), cancellationToken);
            if (File.Exists(binary))
            {
                return binary;
            }

            RemoveStaleStaging(CacheRoot);
            var staging = directory + ".tmp-" + Environment.ProcessId;
            // its own bin/obj: a build of the same projects elsewhere (the demo's Release build of latch, another
            // publish) must not rewrite Latch.Core/Latch.Azure under the NativeAOT compiler (it crashed with SIGBUS)
            var artifacts = staging + "-artifacts";
            // latchd, the key guard's AuthorizedKeysCommand and the image latchd run becomes after Ready ship side by side
            foreach (var (project, name) in Images)
            {
                var result = await Command.RunAsync(
                    ["dotnet", "publish", Path.Combine(RepoPaths.Root, "src", project), "-c", "Release", "-r", "linux-x64", "-o", staging, "--artifacts-path", artifacts, "-nologo", "-p:TrimmerSingleWarn=false"],
                    timeout: TimeSpan.FromMinutes(20),
                    cancellationToken: cancellationToken);
                var output = result.Stdout + result.Stderr;
                if (!result.Succeeded || output.Contains("warning IL2", StringComparison.Ordinal) || output.Contains("warning IL3", StringComparison.Ordinal))
                {
                    throw new RigException($"NativeAOT publish of {name} failed or warned (exit {result.ExitCode}):\n{output}");
                }
            }

            foreach (var debug in Directory.EnumerateFiles(staging).Where(f => !Images.Any(i => i.Name == Path.GetFileName(f))))
            {
                File.Delete(debug);
            }

            Directory.Delete(artifacts, recursive: true);
            Directory.Move(staging, directory);
            // keep the three newest builds: every source change adds one (~10 MB)
            foreach (var old in new DirectoryInfo(CacheRoot).EnumerateDirectories().Where(d => !d.Name.Contains(".tmp-", StringComparison.Ordinal)).OrderByDescending(d => d.LastWriteTimeUtc).Skip(3))
            {
                old.Delete(recursive: true);
            }

            return binary;
        }
        finally
        {
            s_gate.Release();
        }
    }

    /// <summary>
    /// Removes HASH.tmp-PID and HASH.tmp-PID-artifacts directories whose publishing process is gone (an interrupted
    /// publish leaves them, ~100 MB each). Call with the cache lock held; a live PID's directories are left alone.
    /// Returns the names removed.
    /// </summary>
    internal static IReadOnlyList<string> RemoveStaleStaging(string cacheRoot)
    {
        var removed = new List<string>();
        if (!Directory.Exists(cacheRoot))
        {
            return removed;
        }

        foreach (var dir in new DirectoryInfo(cacheRoot).EnumerateDirectories("*.tmp-*"))
        {
            var tail = dir.Name[(dir.Name.IndexOf(".tmp-", StringComparison.Ordinal) + ".tmp-".Length)..];
            if (tail.EndsWith("-artifacts", StringComparison.Ordinal))
            {
                tail = tail[..^"-artifacts".Length];
            }

            if (!int.TryParse(tail, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pid)
                || Directory.Exists($"/proc/{pid}"))
            {
                continue;
            }

            dir.Delete(recursive: true);
            removed.Add(dir.Name);
        }

        return removed;
    }

    /// <summary>Copies latchd into the VM as /usr/local/sbin/latchd, and latchd-guard next to it (0755 root).</summary>
    public static async Task InstallAsync(Vm vm, CancellationToken cancellationToken = default)
    {
        var binary = await EnsurePublishedAsync(cancellationToken);
        foreach (var (source, path) in new[] { (binary, VmPath), (Path.Combine(Path.GetDirectoryName(binary)!, "latchd-guard"), GuardImageVmPath) })
        {
            var target = vm.Root + path;
            File.Copy(source, target, overwrite: true);
            File.SetUnixFileMode(target, (UnixFileMode)0b111_101_101);
        }
    }

    /// <summary>Where a package installs the binaries: the paths the guard's sshd drop-in names (sshd wants them root-owned).</summary>
    public const string PackagedPath = "/usr/sbin/latchd";
    public const string PackagedAkcPath = "/usr/sbin/latch-akc";
    public const string PackagedGuardImagePath = "/usr/sbin/latchd-guard";

    /// <summary>Copies latchd, latch-akc and latchd-guard into the VM where the .deb puts them (/usr/sbin, root:root 0755).</summary>
    public static async Task InstallPackagedAsync(Vm vm, CancellationToken cancellationToken = default)
    {
        var latchd = await EnsurePublishedAsync(cancellationToken);
        var directory = Path.GetDirectoryName(latchd)!;
        foreach (var (source, path) in new[] { (latchd, PackagedPath), (Path.Combine(directory, "latch-akc"), PackagedAkcPath), (Path.Combine(directory, "latchd-guard"), PackagedGuardImagePath) })
        {
            var target = vm.Root + path;
            File.Copy(source, target, overwrite: true);
            await Command.CheckAsync(["chown", "root:root", target], cancellationToken: cancellationToken);
            File.SetUnixFileMode(target, (UnixFileMode)0b111_101_101);
        }
    }

    /// <summary>Runs <c>latchd ARGS</c> inside the VM as root (its network and UTS namespaces, chrooted).</summary>
    public static Task<CommandResult> RunAsync(Vm vm, IReadOnlyList<string> args, string? stdin = null, CancellationToken cancellationToken = default) =>
        vm.ExecAsync([VmPath, .. args], stdin, TimeSpan.FromMinutes(10), cancellationToken);

    internal static string SourceHash()
    {
        var root = RepoPaths.Root;
        var files = Images.Select(i => "src/" + i.Project).Concat(["src/Latch.Core", "src/Latch.Azure"])
            .SelectMany(d => Directory.EnumerateFiles(Path.Combine(root, d), "*", SearchOption.AllDirectories))
            .Where(f => !f.Contains("/bin/", StringComparison.Ordinal) && !f.Contains("/obj/", StringComparison.Ordinal))
            .Concat([Path.Combine(root, "Directory.Build.props"), Path.Combine(root, "Directory.Packages.props")])
            .Order(StringComparer.Ordinal);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in files)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(Path.GetRelativePath(root, file) + "\0"));
            hash.AppendData(File.ReadAllBytes(file));
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }

    private static async Task<FileStream> LockAsync(string path, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (attempt < 2400)
            {
                await Task.Delay(500, cancellationToken);
            }
        }
    }
}
