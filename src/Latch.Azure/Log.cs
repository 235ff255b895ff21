using Microsoft.Extensions.Logging;

namespace Latch.Azure;

/// <summary>Every log message of Latch.Azure. Arguments are endpoints, counts and error texts: never tokens or secret values.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "{Endpoint} {Operation}: attempt {Attempt} failed ({Error}); retrying in {DelayMs:0} ms")]
    public static partial void Retrying(ILogger logger, string endpoint, string operation, int attempt, string error, double delayMs);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Error, Message = "{Endpoint} {Operation}: giving up after {Attempts} attempt(s); last error: {Error}")]
    public static partial void GaveUp(ILogger logger, string endpoint, string operation, int attempts, string error);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Information, Message = "WireServer goal state changed while reporting health (was incarnation {Old}); refetched incarnation {New}")]
    public static partial void GoalStateChanged(ILogger logger, string old, string @new);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Debug, Message = "{Source} token for {Resource} fetched; valid until {ExpiresOn:o}")]
    public static partial void TokenFetched(ILogger logger, string source, string resource, DateTimeOffset expiresOn);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Debug, Message = "ARM operation {Operation} still running; polling again in {DelayMs:0} ms")]
    public static partial void Polling(ILogger logger, string operation, double delayMs);
}
