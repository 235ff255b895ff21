using System.Text.Json.Serialization;

namespace Latch.Cli.Commands;

/// <summary>The <c>latch keys lint --json</c> report: <see cref="Valid"/> is true when every file was read and every key line is valid.</summary>
internal sealed record LintReport(bool Valid, IReadOnlyList<LintFileReport> Files);

/// <summary>One file: <see cref="Error"/> is set when it could not be read.</summary>
internal sealed record LintFileReport(string Path, string? Error, int Keys, int Malformed, IReadOnlyList<LintLine> Lines);

/// <summary>A key line (<see cref="Kind"/> "key") or a malformed one ("malformed", with Error and Column).</summary>
internal sealed record LintLine(
    int Line,
    string Kind,
    string? Type,
    int? Bits,
    string? Fingerprint,
    string? OptionsText,
    IReadOnlyList<LintOption>? Options,
    string? Comment,
    string? Warning,
    string? Error,
    int? Column);

internal sealed record LintOption(string Name, string? Value);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true)]
[JsonSerializable(typeof(LintReport))]
internal sealed partial class LintJsonContext : JsonSerializerContext
{
    /// <summary>Writes quotes and '+' as themselves: the report is for reading, not for embedding in HTML.</summary>
    public static LintJsonContext Readable { get; } = new(new System.Text.Json.JsonSerializerOptions
    {
        PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
