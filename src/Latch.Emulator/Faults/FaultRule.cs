using System.Globalization;
using System.Text.Json.Serialization;

namespace Latch.Emulator.Faults;

/// <summary>What a fault does to a matching request.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<FaultKind>))]
public enum FaultKind
{
    /// <summary>Wait <see cref="FaultRule.Value"/> ms, then serve the request normally.</summary>
    Latency,

    /// <summary>Answer with status <see cref="FaultRule.Value"/> (500 or 503 by default 500) and an Azure-shaped error body.</summary>
    Status,

    /// <summary>Answer 410 Gone (IMDS asks clients to retry for up to 70 s).</summary>
    Gone,

    /// <summary>Answer 429 with <c>Retry-After: Value</c> seconds (default 1).</summary>
    Throttle,

    /// <summary>Abort the TCP connection without a response, before the endpoint sees the request.</summary>
    Reset,

    /// <summary>
    /// Let the endpoint handle the request (and act on it), then abort the connection instead of sending the response:
    /// a reply lost in transit, so the client cannot tell whether the server acted.
    /// </summary>
    Lost,

    /// <summary>Hold the request without answering until the client gives up, at most <see cref="FaultRule.Value"/> ms (default 30000), then abort.</summary>
    Timeout,

    /// <summary>Declare a Content-Length longer than the body, send part of it, then abort.</summary>
    Truncate,

    /// <summary>Answer 200 with a body that is not valid JSON (or XML on the WireServer).</summary>
    Malformed,

    /// <summary>
    /// A service limit, shaped like Key Vault's (a number of transactions per vault per 10 seconds): the first
    /// <see cref="FaultRule.Value"/> matching requests of each 10-second window pass untouched; later ones get 429 with
    /// <c>Retry-After</c> = the whole seconds left in the window.
    /// </summary>
    Limit,
}

/// <summary>
/// One injected fault: which endpoint group (imds, wireserver, hostgaplugin, keyvault, arm, identity, or * for all), an optional
/// path prefix, the kind, and how many requests it hits (null: until cleared).
/// </summary>
public sealed record FaultRule
{
    public static readonly IReadOnlyList<string> Groups = ["imds", "wireserver", "hostgaplugin", "keyvault", "arm", "identity", "*"];

    public required string Group { get; init; }
    public required FaultKind Kind { get; init; }
    public string? PathPrefix { get; init; }

    /// <summary>Requests left to hit; null hits every matching request until the fault is cleared.</summary>
    public int? Count { get; init; }

    /// <summary>The kind's parameter: latency ms, status code, Retry-After seconds, timeout bound ms or requests per 10 s.</summary>
    public int? Value { get; init; }

    public string Id { get; init; } = Guid.NewGuid().ToString("N")[..12];

    public bool Matches(string group, string path) =>
        (Group == "*" || string.Equals(Group, group, StringComparison.OrdinalIgnoreCase))
        && (PathPrefix is null || path.StartsWith(PathPrefix, StringComparison.OrdinalIgnoreCase));

    /// <summary>Checks the rule and returns a message saying what is wrong, or null when it is usable.</summary>
    public string? Validate()
    {
        if (!Groups.Contains(Group, StringComparer.OrdinalIgnoreCase))
        {
            return $"unknown group '{Group}'; use one of {string.Join(", ", Groups)}";
        }

        if (Count is <= 0)
        {
            return "count must be at least 1 (leave it out for 'until cleared')";
        }

        if (PathPrefix is { } prefix && !prefix.StartsWith('/'))
        {
            return "path must start with '/'";
        }

        return Kind switch
        {
            FaultKind.Status when Value is { } s && s is < 400 or > 599 => "status must be a 4xx or 5xx code (500 and 503 are the usual ones)",
            FaultKind.Latency when Value is null or < 0 or > 600_000 => "latency needs a value in ms between 0 and 600000 (latency=250)",
            FaultKind.Throttle when Value is < 0 or > 3600 => "throttle's Retry-After must be 0-3600 seconds",
            FaultKind.Timeout when Value is < 1 or > 600_000 => "timeout's bound must be 1-600000 ms",
            FaultKind.Limit when Value is null or < 0 => "limit needs the number of requests allowed per 10 s (limit=4000)",
            _ => null,
        };
    }

    /// <summary>
    /// Parses <c>GROUP:KIND[=VALUE][,path=PREFIX][,count=N]</c>, e.g. <c>imds:status=503,count=3</c>,
    /// <c>wireserver:reset,path=/machine</c>, <c>keyvault:throttle=2</c>, <c>arm:latency=1500</c>, <c>keyvault:limit=4000</c>.
    /// </summary>
    public static FaultRule Parse(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var colon = spec.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            throw new FormatException($"fault '{spec}': expected GROUP:KIND[=VALUE][,path=PREFIX][,count=N], e.g. imds:status=503,count=3");
        }

        var group = spec[..colon].Trim().ToLowerInvariant();
        var parts = spec[(colon + 1)..].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0)
        {
            throw new FormatException($"fault '{spec}': the kind is missing; use one of {string.Join(", ", Enum.GetNames<FaultKind>()).ToLowerInvariant()}");
        }

        var (kindName, kindValue) = SplitPair(parts[0]);
        if (!Enum.TryParse<FaultKind>(kindName, ignoreCase: true, out var kind) || int.TryParse(kindName, out _))
        {
            throw new FormatException($"fault '{spec}': unknown kind '{kindName}'; use one of {string.Join(", ", Enum.GetNames<FaultKind>()).ToLowerInvariant()}");
        }

        string? path = null;
        int? count = null;
        foreach (var part in parts.Skip(1))
        {
            var (name, value) = SplitPair(part);
            switch (name.ToLowerInvariant())
            {
                case "path":
                    path = value;
                    break;
                case "count":
                    count = ParseInt(spec, "count", value);
                    break;
                default:
                    throw new FormatException($"fault '{spec}': unknown option '{name}'; use path=PREFIX or count=N");
            }
        }

        var rule = new FaultRule
        {
            Group = group,
            Kind = kind,
            Value = kindValue is null ? null : ParseInt(spec, kindName, kindValue),
            PathPrefix = path,
            Count = count,
        };
        return rule.Validate() is { } problem ? throw new FormatException($"fault '{spec}': {problem}") : rule;
    }

    public override string ToString() =>
        $"{Group}:{Kind.ToString().ToLowerInvariant()}{(Value is { } v ? "=" + v.ToString(CultureInfo.InvariantCulture) : "")}"
        + (PathPrefix is null ? "" : ",path=" + PathPrefix)
        + (Count is { } c ? ",count=" + c.ToString(CultureInfo.InvariantCulture) : "");

    private static (string Name, string? Value) SplitPair(string part)
    {
        var eq = part.IndexOf('=', StringComparison.Ordinal);
        return eq < 0 ? (part, null) : (part[..eq].Trim(), part[(eq + 1)..].Trim());
    }

    private static int ParseInt(string spec, string name, string? value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw new FormatException($"fault '{spec}': {name} needs a whole number, not '{value}'");
}
