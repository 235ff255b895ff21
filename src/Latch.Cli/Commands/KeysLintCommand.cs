using System.CommandLine;
using System.Text;
using System.Text.Json;
using Latch.Core.Keys;

namespace Latch.Cli.Commands;

/// <summary>
/// <c>latch keys lint FILE…</c>: lists each key line of authorized_keys files (number, type, fingerprint,
/// options, comment) and each malformed line with what is wrong and where. Exit 0 when every key line is
/// valid, 1 when a line is malformed, 2 when a file cannot be read.
/// </summary>
internal static class KeysLintCommand
{
    public static Command Create(CliStreams streams)
    {
        var files = new Argument<string[]>("FILE")
        {
            Description = "authorized_keys files to check ('-' reads standard input)",
            Arity = ArgumentArity.OneOrMore,
        };
        var hash = new Option<string>("--hash", "-E")
        {
            Description = "Fingerprint hash, as in ssh-keygen -E",
            DefaultValueFactory = _ => "sha256",
        };
        hash.AcceptOnlyFromAmong("sha256", "md5");
        var json = new Option<bool>("--json") { Description = "Print a JSON report for machines" };

        var command = new Command("lint", "Check authorized_keys files line by line, like sshd reads them");
        command.Arguments.Add(files);
        command.Options.Add(hash);
        command.Options.Add(json);
        command.SetAction((parseResult, cancellationToken) => RunAsync(
            streams,
            parseResult.GetValue(files) ?? [],
            parseResult.GetValue(hash) == "md5",
            parseResult.GetValue(json),
            cancellationToken));
        return command;
    }

    public static async Task<int> RunAsync(CliStreams streams, IReadOnlyList<string> paths, bool md5, bool json, CancellationToken cancellationToken = default)
    {
        var reports = new List<LintFileReport>();
        foreach (var path in paths)
        {
            reports.Add(await LintAsync(streams, path, md5, cancellationToken).ConfigureAwait(false));
        }

        if (json)
        {
            var report = new LintReport(reports.All(r => r.Error is null && r.Malformed == 0), reports);
            await streams.Out.WriteLineAsync(JsonSerializer.Serialize(report, LintJsonContext.Readable.LintReport)).ConfigureAwait(false);
        }
        else
        {
            foreach (var report in reports)
            {
                await WriteTextAsync(streams, report).ConfigureAwait(false);
            }
        }

        return reports.Any(r => r.Error is not null) ? ExitCodes.UsageOrIo
            : reports.Any(r => r.Malformed > 0) ? ExitCodes.Problems
            : ExitCodes.Success;
    }

    private static async Task<LintFileReport> LintAsync(CliStreams streams, string path, bool md5, CancellationToken cancellationToken)
    {
        byte[] content;
        try
        {
            content = path == "-"
                ? await ReadStandardInputAsync(streams, cancellationToken).ConfigureAwait(false)
                : await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var why = e switch
            {
                FileNotFoundException or DirectoryNotFoundException => "no such file",
                UnauthorizedAccessException => "permission denied (or it is a directory)",
                _ => e.Message,
            };
            return new LintFileReport(path, $"cannot read '{path}': {why}", 0, 0, []);
        }

        var document = AuthorizedKeysDocument.ParseOwned(content);
        var lines = new List<LintLine>();
        foreach (var line in document.Lines)
        {
            if (line.Key is { } key)
            {
                lines.Add(new LintLine(
                    line.Number, "key", key.Type, key.Bits, md5 ? key.Md5Fingerprint : key.Sha256Fingerprint,
                    key.OptionsText.Length > 0 ? key.OptionsText : null,
                    [.. key.Options.Select(o => new LintOption(o.Name, o.Value))],
                    key.Comment, key.Warning, null, null));
            }
            else if (line.Error is { } error)
            {
                lines.Add(new LintLine(line.Number, "malformed", null, null, null, null, null, null, null, error.Message, error.Column));
            }
        }

        return new LintFileReport(path, null, lines.Count(l => l.Kind == "key"), lines.Count(l => l.Kind == "malformed"), lines);
    }

    private static async Task<byte[]> ReadStandardInputAsync(CliStreams streams, CancellationToken cancellationToken)
    {
        var input = streams.OpenStandardInput();
        await using (input.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            await input.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            // a signal can end a blocked read early; what was read then is not the whole input
            cancellationToken.ThrowIfCancellationRequested();
            return buffer.ToArray();
        }
    }

    private static async Task WriteTextAsync(CliStreams streams, LintFileReport report)
    {
        var name = report.Path == "-" ? "(stdin)" : report.Path;
        if (report.Error is not null)
        {
            await streams.Error.WriteLineAsync($"latch: {report.Error}").ConfigureAwait(false);
            return;
        }

        var text = new StringBuilder();
        text.Append(name).Append(":\n");
        var typeWidth = report.Lines.Where(l => l.Type is not null).Select(l => l.Type!.Length).DefaultIfEmpty(0).Max();
        foreach (var line in report.Lines)
        {
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"{line.Line,6}  ");
            if (line.Kind == "key")
            {
                text.Append(line.Type!.PadRight(typeWidth)).Append("  ").Append(line.Fingerprint);
                if (line.OptionsText is not null)
                {
                    text.Append("  ").Append(Escape(line.OptionsText));
                }

                text.Append("  ").Append(line.Comment is null ? "(no comment)" : Escape(line.Comment)).Append('\n');
                if (line.Warning is not null)
                {
                    text.Append("        warning: ").Append(line.Warning).Append('\n');
                }
            }
            else
            {
                text.Append(System.Globalization.CultureInfo.InvariantCulture, $"error: {line.Error} at column {line.Column}\n");
            }
        }

        text.Append(System.Globalization.CultureInfo.InvariantCulture, $"{name}: {Count(report.Keys, "key")}, {Count(report.Malformed, "malformed line")}\n");
        await streams.Out.WriteAsync(text.ToString()).ConfigureAwait(false);
    }

    private static string Count(int n, string noun) => n == 1 ? $"1 {noun}" : $"{n} {noun}s";

    // A comment is the file owner's text: never let it move the cursor or recolour the terminal.
    private static string Escape(string text)
    {
        if (!text.Any(char.IsControl))
        {
            return text;
        }

        var builder = new StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            builder.Append(char.IsControl(c) ? $"\\x{(int)c:x2}" : c.ToString());
        }

        return builder.ToString();
    }
}
