using System.Diagnostics;
using Latch.Azure;
using Latch.Cli.Azure;

namespace Latch.Cli.Keys;

/// <summary>A new key pair: the private key only as a <see cref="Secret"/>, never printed or logged.</summary>
internal sealed record GeneratedKey(Secret PrivateKey, string PublicLine);

/// <summary>
/// Makes ed25519 key pairs with the system's ssh-keygen (.NET has no ed25519) inside a fresh 0700 directory, reads
/// both halves into memory, then overwrites and deletes the files.
/// </summary>
internal static class KeyGenerator
{
    public static async Task<GeneratedKey> GenerateAsync(string comment, CancellationToken cancellationToken = default)
    {
        var directory = Directory.CreateTempSubdirectory("latch-keygen-");
        try
        {
            File.SetUnixFileMode(directory.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var path = Path.Combine(directory.FullName, "key");
            var start = new ProcessStartInfo(AzureSession.Which("ssh-keygen", Environment.GetEnvironmentVariable) ?? "ssh-keygen")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                UseShellExecute = false,
            };
            foreach (var argument in (string[])["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path])
            {
                start.ArgumentList.Add(argument);
            }

            Process process;
            try
            {
                process = Process.Start(start) ?? throw new InvalidOperationException("no process");
            }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
            {
                throw new CliException(ExitCodes.UsageOrIo, $"cannot run ssh-keygen ({e.Message}); install the OpenSSH client.", e);
            }

            using (process)
            {
                process.StandardInput.Close();
                var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
                await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
                if (process.ExitCode != 0)
                {
                    throw new CliException(ExitCodes.UsageOrIo, $"ssh-keygen failed (exit {process.ExitCode}): {(await stderr.ConfigureAwait(false)).Trim()}");
                }
            }

            var privateKey = await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false);
            var publicLine = (await File.ReadAllTextAsync(path + ".pub", cancellationToken).ConfigureAwait(false)).Trim();
            return new GeneratedKey(new Secret(privateKey), publicLine);
        }
        finally
        {
            Shred(directory);
        }
    }

    private static void Shred(DirectoryInfo directory)
    {
        foreach (var file in directory.EnumerateFiles())
        {
            try
            {
                using (var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Write))
                {
                    stream.Write(new byte[stream.Length]);
                    stream.Flush(flushToDisk: true);
                }

                file.Delete();
            }
            catch (IOException)
            {
                // deleted below with the directory anyway
            }
        }

        directory.Delete(recursive: true);
    }

    /// <summary>Writes a private key to <paramref name="path"/> with mode 0600 (created so, never widened) and the .pub next to it.</summary>
    public static void SaveLocal(string path, GeneratedKey key)
    {
        Config.LatchPaths.EnsurePrivateDirectory(Path.GetDirectoryName(path)!);
        using (var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(key.PrivateKey.Reveal());
        }

        File.WriteAllText(path + ".pub", key.PublicLine + "\n");
    }
}
