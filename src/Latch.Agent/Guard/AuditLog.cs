using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Latch.Core.Interop;
using static Latch.Core.Interop.LibcConstants;

namespace Latch.Agent.Guard;

/// <summary>One change latchd made to a user's authorized_keys (or refused to make), as a line of the audit log.</summary>
internal sealed record AuditRecord(
    [property: JsonPropertyName("timestamp")] DateTimeOffset Timestamp,
    [property: JsonPropertyName("user")] string User,
    [property: JsonPropertyName("action")] string Action,
    [property: JsonPropertyName("restored")] IReadOnlyList<string> Restored,
    [property: JsonPropertyName("removed")] IReadOnlyList<string> Removed,
    [property: JsonPropertyName("cause")] string Cause,
    [property: JsonPropertyName("duration_ms")] double DurationMs,
    [property: JsonPropertyName("error")] string? Error);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(AuditRecord))]
internal sealed partial class GuardJsonContext : JsonSerializerContext;

/// <summary>
/// The audit log, JSON lines in <c>/var/log/latch/audit.jsonl</c> (root, 0600): appended with O_APPEND in one write
/// per record, so concurrent writers never interleave within a line; never follows a symlink.
/// </summary>
internal sealed class AuditLog(string path)
{
    public const string DefaultPath = "/var/log/latch/audit.jsonl";
    private const int O_APPEND = 0x400;
    // fingerprints keep their '+' and '/' readable: the log is read by people and grep, never embedded in HTML
    private static readonly GuardJsonContext s_json = new(new JsonSerializerOptions(GuardJsonContext.Default.Options) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    private readonly Lock _gate = new();

    public string Path { get; } = path;

    /// <summary>Appends the record; returns an error message instead of throwing (auditing must not stop a restore).</summary>
    public string? Append(AuditRecord record)
    {
        var line = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(record, s_json.AuditRecord) + "\n");
        lock (_gate)
        {
            try
            {
                var directory = System.IO.Path.GetDirectoryName(Path)!;
                if (!Directory.Exists(directory))
                {
                    Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return $"cannot create the directory of {Path}: {e.Message}";
            }

            var errno = Posix.Open(Path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NOCTTY, out var fd);
            using (fd)
            {
                if (errno != 0)
                {
                    return $"cannot open {Path}: {Posix.Describe(errno)}";
                }

                // a file someone else created (looser mode) is tightened; the content is audit data, not secrets
                _ = Posix.FChmod(fd, 0b110_000_000);
                errno = Posix.WriteAll(fd, line);
                return errno == 0 ? null : $"cannot append to {Path}: {Posix.Describe(errno)}";
            }
        }
    }
}
