using System.Diagnostics;

namespace Latch.Core.Tests.Keys;

/// <summary>
/// Real keys and certificates made once by ssh-keygen for the conformance tests: every key type sshd
/// takes, each also as a certificate. Security-key (sk-*) keys need hardware to generate, so their public
/// blobs are built in the wire format and only signed by ssh-keygen.
/// </summary>
public sealed class OpenSshKeyFiles : IDisposable
{
    private readonly Lock _gate = new();
    private readonly string _directory = System.IO.Directory.CreateTempSubdirectory("latch-keys-").FullName;
    private List<string>? _files;

    public string DirectoryPath => _directory;

    /// <summary>Paths of one-line .pub files: plain keys first, then certificates.</summary>
    public IReadOnlyList<string> Files(string keygen)
    {
        lock (_gate)
        {
            return _files ??= Generate(keygen);
        }
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    public static (int ExitCode, string Output) Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish");
        }

        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    private List<string> Generate(string keygen)
    {
        var keys = new List<string>();
        foreach (var (name, type, bits) in new[]
        {
            ("rsa2048", "rsa", "2048"), ("rsa4096", "rsa", "4096"), ("ecdsa256", "ecdsa", "256"),
            ("ecdsa384", "ecdsa", "384"), ("ecdsa521", "ecdsa", "521"), ("ed25519", "ed25519", ""),
        })
        {
            var path = Path.Combine(_directory, name);
            string[] args = bits.Length > 0
                ? ["-q", "-t", type, "-b", bits, "-N", "", "-C", $"{name}@latch-test", "-f", path]
                : ["-q", "-t", type, "-N", "", "-C", $"{name}@latch-test", "-f", path];
            Check(Run(keygen, args));
            keys.Add(path + ".pub");
        }

        File.WriteAllText(Path.Combine(_directory, "sk-ed25519.pub"), TestKeys.Line(TestKeys.SkEd25519Blob(), "sk-ed25519@latch-test") + "\n");
        File.WriteAllText(Path.Combine(_directory, "sk-ecdsa.pub"), TestKeys.Line(TestKeys.SkEcdsaBlob(), "sk-ecdsa@latch-test") + "\n");
        keys.Add(Path.Combine(_directory, "sk-ed25519.pub"));
        keys.Add(Path.Combine(_directory, "sk-ecdsa.pub"));

        var certificates = new List<string>();
        var ca = Path.Combine(_directory, "ca");
        Check(Run(keygen, "-q", "-t", "ed25519", "-N", "", "-C", "ca", "-f", ca));
        foreach (var key in keys)
        {
            Check(Run(keygen, "-q", "-s", ca, "-I", "id-" + Path.GetFileNameWithoutExtension(key), "-n", "user", key));
            certificates.Add(key.Replace(".pub", "-cert.pub", StringComparison.Ordinal));
        }

        // the CA key inside a certificate can be any plain type: sign with RSA and ECDSA CAs too
        foreach (var (caType, caBits) in new[] { ("rsa", "2048"), ("ecdsa", "384") })
        {
            var otherCa = Path.Combine(_directory, "ca-" + caType);
            Check(Run(keygen, "-q", "-t", caType, "-b", caBits, "-N", "", "-f", otherCa));
            var subject = Path.Combine(_directory, $"ed25519-by-{caType}.pub");
            File.Copy(Path.Combine(_directory, "ed25519.pub"), subject);
            Check(Run(keygen, "-q", "-s", otherCa, "-I", "id", "-n", "user,admin", "-O", "force-command=uptime", "-V", "+52w", subject));
            certificates.Add(subject.Replace(".pub", "-cert.pub", StringComparison.Ordinal));
        }

        return [.. keys, .. certificates];
    }

    private static void Check((int ExitCode, string Output) result)
    {
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException("ssh-keygen failed: " + result.Output);
        }
    }
}
