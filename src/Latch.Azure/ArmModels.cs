namespace Latch.Azure;

/// <summary>A VM as ARM describes it (power state only when read with instanceView).</summary>
public sealed record ArmVirtualMachine(
    string Id,
    string Name,
    string SubscriptionId,
    string ResourceGroup,
    string? Location,
    string? VmId,
    string? VmSize,
    string? OsType,
    string? AdminUsername,
    string? ProvisioningState,
    string? PowerState,
    IReadOnlyList<string> NetworkInterfaceIds,
    IReadOnlyDictionary<string, string> Tags)
{
    /// <summary>The NIC marked primary, else the first one.</summary>
    public string? PrimaryNetworkInterfaceId { get; init; }
}

/// <summary>Where to reach a VM: its primary NIC's private address, the public one when attached, and the NIC's NSG.</summary>
public sealed record ArmVmAddresses(string PrivateIpAddress, string? PublicIpAddress, string NetworkInterfaceId, string? NetworkSecurityGroupId);

/// <summary>One NSG rule, flattened (prefix lists joined into lists).</summary>
public sealed record ArmSecurityRule(
    string Name,
    int Priority,
    string Direction,
    string Access,
    string Protocol,
    IReadOnlyList<string> SourceAddressPrefixes,
    string? SourcePortRange,
    string? DestinationAddressPrefix,
    IReadOnlyList<string> DestinationPortRanges,
    bool IsDefault);

/// <summary>What a RunShellScript run produced; <see cref="ExitCode"/> when ARM's message names one.</summary>
public sealed record RunCommandResult(bool Succeeded, string Code, string? DisplayStatus, string Stdout, string Stderr, int? ExitCode, string Message);

/// <summary>Settings for <see cref="ArmClient"/> and <see cref="RunCommandClient"/>.</summary>
public sealed class ArmClientOptions : AzureClientOptions
{
    public static readonly Uri DefaultAddress = new("https://management.azure.com");

    public ArmClientOptions()
        : base(DefaultAddress, TimeSpan.FromSeconds(60), new RetryOptions { InitialDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(30), MaxAttempts = 8, TotalDeadline = TimeSpan.FromMinutes(3) })
    {
    }

    public string ComputeApiVersion { get; init; } = "2024-07-01";

    public string NetworkApiVersion { get; init; } = "2024-05-01";

    /// <summary>Wait between polls of a long-running operation when ARM sends no Retry-After.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(2);
}
