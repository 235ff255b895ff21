using Microsoft.Extensions.Logging;

namespace Latch.Agent.Guard;

/// <summary>
/// Log lines to stderr with sd-daemon priority prefixes (<c>&lt;4&gt;</c>…), which journald turns into priorities
/// when latchd runs under systemd. One line per message; exceptions are reduced to their messages.
/// </summary>
internal sealed class StderrLogger(TextWriter writer, LogLevel minimum = LogLevel.Information) : ILogger
{
    private readonly Lock _gate = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum && logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        ArgumentNullException.ThrowIfNull(formatter);
        if (!IsEnabled(logLevel))
        {
            return;
        }

        var priority = logLevel switch
        {
            LogLevel.Critical => 2,
            LogLevel.Error => 3,
            LogLevel.Warning => 4,
            LogLevel.Information => 6,
            _ => 7,
        };
        var line = $"<{priority}>{formatter(state, exception)}{(exception is null ? "" : ": " + exception.Message)}";
        lock (_gate)
        {
            writer.WriteLine(line);
            writer.Flush();
        }
    }
}
