namespace Latch.Azure;

/// <summary>The WireServer goal state fields an agent needs to report health (from <c>/machine/?comp=goalstate</c>).</summary>
public sealed record GoalState(string Incarnation, string ContainerId, string RoleInstanceId, GoalStateConfiguration Configuration);

/// <summary>URLs under <c>RoleInstance/Configuration</c>; any may be absent.</summary>
public sealed record GoalStateConfiguration(
    string? HostingEnvironmentConfig,
    string? SharedConfig,
    string? ExtensionsConfig,
    string? FullConfig,
    string? Certificates,
    string? ConfigName);

/// <summary>The answer to <c>/?comp=versions</c>.</summary>
public sealed record WireServerVersions(string? Preferred, IReadOnlyList<string> Supported)
{
    public bool Supports(string version) =>
        string.Equals(Preferred, version, StringComparison.Ordinal) || Supported.Contains(version, StringComparer.Ordinal);
}

public enum HealthState
{
    Ready,
    NotReady,
}

/// <summary>What to tell the fabric: <see cref="Ready"/>, or <see cref="NotReady"/> with a sub-status (e.g. <c>Provisioning</c>, <c>ProvisioningFailed</c>) and a description.</summary>
public sealed record HealthReport
{
    private HealthReport(HealthState state, string? subStatus, string? description)
    {
        State = state;
        SubStatus = subStatus;
        Description = description;
    }

    public HealthState State { get; }

    public string? SubStatus { get; }

    public string? Description { get; }

    public static HealthReport Ready { get; } = new(HealthState.Ready, null, null);

    public static HealthReport NotReady(string subStatus, string description)
    {
        ArgumentException.ThrowIfNullOrEmpty(subStatus);
        ArgumentNullException.ThrowIfNull(description);
        return new HealthReport(HealthState.NotReady, subStatus, description);
    }
}
