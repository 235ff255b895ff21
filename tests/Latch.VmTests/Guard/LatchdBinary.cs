using System.Security.Cryptography;
using System.Text;
using Latch.VmTests.Rig;

namespace Latch.VmTests.Guard;

/// <summary>
/// latchd as it ships: a NativeAOT publish, made once per source version and cached under
/// /var/cache/latch/latchd/HASH (HASH covers every source and project file latchd is built from), then copied into
/// a VM as /usr/sbin/latchd (root, 0755), the path the sshd drop-in names. Shared by every test that runs latchd in a VM.
/// </summary>
internal static class LatchdBinary
{
    public const string VmPath = "/usr/sbin/latchd";
    public const string AkcVmPath = "/usr/sbin/latch-akc";
    private const string CacheRoot = "/var/cache/latch/latchd";
    private static readonly SemaphoreSlim s_gate = new(1, 1);
    private static string? s_path;

    /// <summary>The published binary on the host (building it on first use: ~1-3 minutes).</summary>
    public static async Task<string> EnsureAsync(CancellationToken cancellationToken = default)
    {
        await s_gate.WaitAsync(cancellationToken);
        try
        {
            if (s_path is not null)
            {
                return s_path;
            }

            var hash = SourceHash();
            var directory = Path.Combine(CacheRoot, hash);
            var binary = Path.Combine(directory, "latchd");
            if (!File.Exists(binary))
            {
                var temp = directory + ".tmp-" + Environment.ProcessId;
                foreach (var (project, output) in new[] { ("Latch.Agent", "latchd"), ("Latch.Akc", "latch-akc") })
                {
                    var result = await Command.RunAsync(
                        ["dotnet", "publish", Path.Combine(RepoPaths.Root, "src", project), "-c", "Release", "-r", "linux-x64", "-o", temp, "-nologo", "-v", "q"],
                        timeout: TimeSpan.FromMinutes(15), cancellationToken: cancellationToken);
                    if (!result.Succeeded || !File.Exists(Path.Combine(temp, output)))
                    {
                        throw new RigException($"NativeAOT publish of {output} failed:\n{result.Stdout}\n{result.Stderr}");
                    }
                }

                Directory.CreateDirectory(CacheRoot);
                if (!Directory.Exists(directory))
                {
                    Directory.Move(temp, directory);
                }
                else
                {
                    Directory.Delete(temp, recursive: true);
                }
            }

            s_path = binary;
            return binary;
        }
        finally
        {
            s_gate.Release();
        }
    }

    /// <summary>Copies latchd and latch-akc into the VM's /usr/sbin, owned by root, mode 0755.</summary>
    public static async Task InstallAsync(Vm vm, CancellationToken cancellationToken = default)
    {
        var binary = await EnsureAsync(cancellationToken);
        foreach (var (source, path) in new[] { (binary, VmPath), (Path.Combine(Path.GetDirectoryName(binary)!, "latch-akc"), AkcVmPath) })
        {
            var target = vm.Root + path;
            File.Copy(source, target, overwrite: true);
            await Command.CheckAsync(["chown", "root:root", target], cancellationToken: cancellationToken);
            File.SetUnixFileMode(target, (UnixFileMode)0b111_101_101);
        }
    }

    private static string SourceHash()
    {
        var root = RepoPaths.Root;
        var files = new[] { "src/Latch.Agent", "src/Latch.Akc", "src/Latch.Core", "src/Latch.Azure" }
            .SelectMany(d => Directory.EnumerateFiles(Path.Combine(root, d), "*", SearchOption.AllDirectories))
            .Where(f => (f.EndsWith(".cs", StringComparison.Ordinal) || f.EndsWith(".csproj", StringComparison.Ordinal))
                && !f.Contains("/bin/", StringComparison.Ordinal) && !f.Contains("/obj/", StringComparison.Ordinal))
            .Concat([Path.Combine(root, "Directory.Build.props"), Path.Combine(root, "Directory.Packages.props")])
            .Order(StringComparer.Ordinal);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in files)
        {
            sha.AppendData(Encoding.UTF8.GetBytes(Path.GetRelativePath(root, file) + "\n"));
            sha.AppendData(File.ReadAllBytes(file));
        }

        return Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
    }
}
