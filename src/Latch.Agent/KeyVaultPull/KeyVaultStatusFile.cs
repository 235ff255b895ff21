using System.Text.Json;
using Latch.Agent.Guard;
using Latch.Core.Files;

namespace Latch.Agent.KeyVaultPull;

/// <summary>
/// The last pull's outcome on disk (root, 0644, JSON; no key material, no token), so <c>latchd status</c> can say
/// "last success / last error / using the last known good keys" when no daemon runs, and after a restart.
/// </summary>
internal static class KeyVaultStatusFile
{
    /// <summary>Writes <paramref name="status"/>; returns what went wrong instead of throwing (a pull must not fail on it).</summary>
    public static string? Write(string path, KeyVaultStatus status, CancellationToken cancellationToken = default)
    {
        try
        {
            var directory = Path.GetDirectoryName(path);
            if (directory is not null && !Directory.Exists(directory))
            {
                Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            }

            SafeFile.WriteSystemFile(path, JsonSerializer.SerializeToUtf8Bytes(status, GuardStatusJsonContext.Default.KeyVaultStatus), 0b110_100_100, cancellationToken);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SafeFileException)
        {
            return $"cannot record the pull's outcome in {path}: {e.Message}";
        }
    }

    /// <summary>The recorded outcome, or null when there is none or it cannot be read.</summary>
    public static KeyVaultStatus? Read(string path)
    {
        try
        {
            return File.Exists(path) ? JsonSerializer.Deserialize(File.ReadAllBytes(path), GuardStatusJsonContext.Default.KeyVaultStatus) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }
}
