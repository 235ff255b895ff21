namespace Latch.Azure;

/// <summary>Settings for <see cref="WireServerClient"/>.</summary>
public sealed class WireServerClientOptions : AzureClientOptions
{
    /// <summary>The fabric's WireServer address every Azure VM sees.</summary>
    public static readonly Uri DefaultAddress = new("http://168.63.129.16");

    // waagent retries health 30 times 15 s apart; azure-init allows 60 s per request and 1200 s in total.
    public WireServerClientOptions()
        : base(DefaultAddress, TimeSpan.FromSeconds(60), new RetryOptions { InitialDelay = TimeSpan.FromSeconds(2), MaxDelay = TimeSpan.FromSeconds(15), MaxAttempts = 30, TotalDeadline = TimeSpan.FromMinutes(10) })
    {
    }

    /// <summary>Sent as <c>x-ms-agent-name</c> (XML endpoints) and <c>x-ms-guest-agent-name</c> (JSON health).</summary>
    public string AgentName { get; init; } = "Latch";

    /// <summary>How often a health report may refetch the goal state because it changed underneath it.</summary>
    public int MaxGoalStateRefetches { get; init; } = 5;
}
