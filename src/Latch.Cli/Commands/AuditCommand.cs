using System.CommandLine;
using System.Globalization;
using System.Text.Json;

namespace Latch.Cli.Commands;

/// <summary><c>latch audit [--vm V] [--since T] [--json]</c>: reads ~/.local/state/latch/audit.jsonl.</summary>
internal static class AuditCommand
{
    public static Command Create(CliStreams streams, GlobalOptions globals)
    {
        var vm = new Option<string?>("--vm") { Description = "Only this VM" };
        var since = new Option<string?>("--since") { Description = "Only records newer than this: 30m, 12h, 7d, or an ISO date/time" };
        var json = SharedOptions.Json();
        var command = new Command("audit", "Show the key-sync audit log");
        command.Options.Add(vm);
        command.Options.Add(since);
        command.Options.Add(json);
        command.SetAction((parse, ct) => CommandRunner.RunAsync(streams, globals, parse, async (cli, token) =>
        {
            var from = parse.GetValue(since) is { } text ? ParseSince(text, cli.Time.GetUtcNow()) : DateTimeOffset.MinValue;
            var name = parse.GetValue(vm);
            var records = CommandRunner.Audit(cli).Read()
                .Where(r => r.Timestamp >= from && (name is null || string.Equals(r.VmName, name, StringComparison.OrdinalIgnoreCase)))
                .ToList();
            if (parse.GetValue(json))
            {
                await cli.Streams.Out.WriteLineAsync(JsonSerializer.Serialize(records, CliJsonContext.Output.ListAuditRecord)).ConfigureAwait(false);
                return ExitCodes.Success;
            }

            foreach (var r in records)
            {
                var what = r.Error is not null ? "FAILED " + r.Error : r.Synced ? "appended" : r.AlreadyPresent ? "present" : r.DryRun ? "dry-run" : "-";
                await cli.Streams.Out.WriteLineAsync($"{r.Timestamp:u}\t{r.VmName}\t{r.Method}\t{r.User}\t{r.DurationMs} ms\t{what}").ConfigureAwait(false);
            }

            return ExitCodes.Success;
        }, ct));
        return command;
    }

    internal static DateTimeOffset ParseSince(string text, DateTimeOffset now)
    {
        if (text.Length >= 2 && double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var amount) && amount >= 0)
        {
            TimeSpan? span = text[^1] switch
            {
                's' => TimeSpan.FromSeconds(amount),
                'm' => TimeSpan.FromMinutes(amount),
                'h' => TimeSpan.FromHours(amount),
                'd' => TimeSpan.FromDays(amount),
                _ => null,
            };
            if (span is { } s)
            {
                return now - s;
            }
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            ? at
            : throw new CliException(ExitCodes.UsageOrIo, $"--since '{text}' is neither a duration (30m, 12h, 7d) nor a date/time (2025-01-31T12:00Z).");
    }
}
