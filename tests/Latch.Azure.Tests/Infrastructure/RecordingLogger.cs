using Microsoft.Extensions.Logging;

namespace Latch.Azure.Tests.Infrastructure;

/// <summary>Collects formatted log lines so tests can check what was (and was not) logged.</summary>
internal sealed class RecordingLogger : ILogger
{
    private readonly Lock _gate = new();
    private readonly List<string> _lines = [];

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_gate)
            {
                return [.. _lines];
            }
        }
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_gate)
        {
            _lines.Add($"{logLevel}: {formatter(state, exception)}{(exception is null ? "" : " | " + exception)}");
        }
    }
}
