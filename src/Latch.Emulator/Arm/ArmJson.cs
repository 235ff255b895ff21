using System.Text.Json.Serialization;

namespace Latch.Emulator;

/// <summary>The body of POST …/virtualMachines/{vm}/runCommand.</summary>
internal sealed record RunCommandInputJson
{
    [JsonPropertyName("commandId")] public string? CommandId { get; init; }
    [JsonPropertyName("script")] public IReadOnlyList<string>? Script { get; init; }
    [JsonPropertyName("parameters")] public IReadOnlyList<RunCommandParameterJson>? Parameters { get; init; }
}

internal sealed record RunCommandParameterJson
{
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("value")] public string? Value { get; init; }
}

/// <summary>ARM's error body: {"error":{"code":…,"message":…}}.</summary>
internal sealed record ArmErrorJson([property: JsonPropertyName("error")] ArmErrorBodyJson Error);

internal sealed record ArmErrorBodyJson(
    [property: JsonPropertyName("code")] string Code,
    [property: JsonPropertyName("message")] string Message);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RunCommandInputJson))]
[JsonSerializable(typeof(ArmErrorJson))]
internal sealed partial class ArmJsonContext : JsonSerializerContext;
