namespace Latch.Cli.Sync;

/// <summary>What the script reported: the key's state and, when it refused or failed, why.</summary>
internal enum SyncState
{
    Present,
    Appended,
    Missing,
    Removed,
    Absent,
    Failed,
}

/// <summary>The parsed result of one script run (any transport).</summary>
internal sealed record SyncOutcome(SyncState State, string? ErrorKind, string? Message, string? Home, string? FileBase64, string? AgentBase64)
{
    public bool Succeeded => State != SyncState.Failed;

    /// <summary>Reads the <c>latch-sync: …</c> lines of the script's output; the last state line wins.</summary>
    public static SyncOutcome Parse(string stdout, int? exitCode, string stderr)
    {
        SyncState? state = null;
        string? errorKind = null, message = null, home = null, file = null, agent = null;
        foreach (var raw in stdout.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (!line.StartsWith("latch-sync: ", StringComparison.Ordinal))
            {
                continue;
            }

            var rest = line["latch-sync: ".Length..];
            var space = rest.IndexOf(' ', StringComparison.Ordinal);
            var word = space < 0 ? rest : rest[..space];
            var tail = space < 0 ? "" : rest[(space + 1)..];
            switch (word)
            {
                case "present": state = SyncState.Present; break;
                case "appended": state = SyncState.Appended; break;
                case "missing": state = SyncState.Missing; break;
                case "removed": state = SyncState.Removed; break;
                case "absent": state = SyncState.Absent; break;
                case "file": file = tail; break;
                case "agent": agent = tail; break;
                case "user":
                    var at = tail.IndexOf(" home ", StringComparison.Ordinal);
                    home = at < 0 ? null : tail[(at + " home ".Length)..];
                    break;
                case "error":
                    state = SyncState.Failed;
                    var kindEnd = tail.IndexOf(' ', StringComparison.Ordinal);
                    errorKind = kindEnd < 0 ? tail : tail[..kindEnd];
                    message = kindEnd < 0 ? tail : tail[(kindEnd + 1)..];
                    break;
                default:
                    break;
            }
        }

        if (state is null || (exitCode is { } code && code != 0 && state != SyncState.Failed))
        {
            var detail = string.IsNullOrWhiteSpace(stderr) ? stdout.Trim() : stderr.Trim();
            if (detail.Length > 300)
            {
                detail = detail[^300..];
            }

            return new SyncOutcome(SyncState.Failed, "no-result", $"the script ended (exit {exitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"}) without a result: {detail}", home, file, agent);
        }

        return new SyncOutcome(state.Value, errorKind, message, home, file, agent);
    }
}
