using System.Text;
using System.Text.Json;
using Latch.Cli.Config;

namespace Latch.Cli.Sync;

/// <summary>
/// <c>~/.local/state/latch/audit.jsonl</c>: one JSON line per key-sync attempt, appended (O_APPEND, one write per
/// record, so concurrent latch processes never interleave a line). Records hold names, fingerprints and timings,
/// never key material, tokens or secrets.
/// </summary>
internal sealed class AuditLog(string path)
{
    private readonly Lock _gate = new();

    public string Path => path;

    public void Append(AuditRecord record)
    {
        var line = JsonSerializer.Serialize(record, CliJsonContext.Output.AuditRecord) + "\n";
        var bytes = Encoding.UTF8.GetBytes(line);
        lock (_gate)
        {
            LatchPaths.EnsurePrivateDirectory(System.IO.Path.GetDirectoryName(path)!);
            Interop.Native.AppendRecord(path, bytes);
        }
    }

    public IReadOnlyList<AuditRecord> Read()
    {
        if (!File.Exists(path))
        {
            return [];
        }

        var records = new List<AuditRecord>();
        foreach (var line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            try
            {
                if (JsonSerializer.Deserialize(line, CliJsonContext.Default.AuditRecord) is { } record)
                {
                    records.Add(record);
                }
            }
            catch (JsonException)
            {
                // a line cut short by a crash: skip it, keep the rest
            }
        }

        return records;
    }
}
