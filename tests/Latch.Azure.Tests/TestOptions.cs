namespace Latch.Azure.Tests;

/// <summary>Client options with millisecond backoff so retry tests finish quickly; deadlines stay generous unless a test is about them.</summary>
internal static class TestOptions
{
    public static RetryOptions FastRetry(int maxAttempts = 6, double totalSeconds = 60) => new()
    {
        MaxAttempts = maxAttempts,
        InitialDelay = TimeSpan.FromMilliseconds(5),
        MaxDelay = TimeSpan.FromMilliseconds(40),
        TotalDeadline = TimeSpan.FromSeconds(totalSeconds),
        RandomSeed = 42,
    };

    public static ImdsClientOptions Imds(Uri address, int maxAttempts = 6, double perCallSeconds = 30, double totalSeconds = 60, Microsoft.Extensions.Logging.ILogger? logger = null) => new()
    {
        Logger = logger,
        BaseAddress = address,
        PerCallTimeout = TimeSpan.FromSeconds(perCallSeconds),
        Retry = FastRetry(maxAttempts, totalSeconds),
    };

    public static WireServerClientOptions WireServer(Uri address, int maxAttempts = 6, Microsoft.Extensions.Logging.ILogger? logger = null) => new()
    {
        Logger = logger,
        BaseAddress = address,
        PerCallTimeout = TimeSpan.FromSeconds(30),
        Retry = FastRetry(maxAttempts),
        AgentName = "LatchTest",
    };
}
