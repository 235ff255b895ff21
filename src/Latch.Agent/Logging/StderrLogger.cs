using Microsoft.Extensions.Logging;

namespace Latch.Agent.Logging;

/// <summary>
/// Writes one line per message to stderr. Under systemd (JOURNAL_STREAM set) each line starts with the sd-daemon
/// priority prefix (<c>&lt;6&gt;</c>), so journald records the level; on a terminal it reads "latchd: warning: …".
/// Far smaller than Microsoft.Extensions.Logging.Console, which NativeAOT would have to carry.
/// </summary>
internal sealed class StderrLogger(TextWriter output, LogLevel minimum, bool journal) : ILogger
{
    private readonly Lock _gate = new();

    public static StderrLogger Create(bool verbose, TextWriter? output = null) =>
        Create(verbose ? LogLevel.Debug : LogLevel.Information, output);

    public static StderrLogger Create(LogLevel minimum, TextWriter? output = null) =>
        new(output ?? Console.Error, minimum, Environment.GetEnvironmentVariable("JOURNAL_STREAM") is { Length: > 0 });

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum && logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        ArgumentNullException.ThrowIfNull(formatter);
        if (!IsEnabled(logLevel))
        {
            return;
        }

        // one line per record: a message never moves the cursor or forges a second journal entry
        // an exception shows as its message only: a stack trace is for a debugger, not the journal
        var text = exception is null ? formatter(state, exception) : $"{formatter(state, exception)}: {exception.Message}";
        var message = text.Replace('\n', ' ').Replace('\r', ' ');
        var line = journal
            ? $"<{Priority(logLevel)}>{message}"
            : $"latchd: {Name(logLevel)}{message}";
        lock (_gate)
        {
            output.WriteLine(line);
            output.Flush();
        }
    }

    private static int Priority(LogLevel level) => level switch
    {
        LogLevel.Critical => 2,
        LogLevel.Error => 3,
        LogLevel.Warning => 4,
        LogLevel.Information => 6,
        _ => 7,
    };

    private static string Name(LogLevel level) => level switch
    {
        LogLevel.Critical or LogLevel.Error => "error: ",
        LogLevel.Warning => "warning: ",
        LogLevel.Debug or LogLevel.Trace => "debug: ",
        _ => "",
    };
}
