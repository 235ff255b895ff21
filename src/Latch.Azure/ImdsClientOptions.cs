namespace Latch.Azure;

/// <summary>Settings for <see cref="ImdsClient"/> and <see cref="ManagedIdentityCredential"/>.</summary>
public sealed class ImdsClientOptions : AzureClientOptions
{
    /// <summary>The link-local IMDS address every Azure VM sees.</summary>
    public static readonly Uri DefaultAddress = new("http://169.254.169.254");

    // azure-init: request 60 s, total 300 s; IMDS answers in milliseconds when healthy, so a shorter per-call deadline
    // recovers faster from a dropped connection.
    public ImdsClientOptions()
        : base(DefaultAddress, TimeSpan.FromSeconds(15), new RetryOptions { InitialDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(10), MaxAttempts = 30, TotalDeadline = TimeSpan.FromMinutes(5) })
    {
    }

    /// <summary>Instance metadata API version; 2021-02-01 or newer carries userData and tagsList.</summary>
    public string ApiVersion { get; init; } = "2023-07-01";
}
