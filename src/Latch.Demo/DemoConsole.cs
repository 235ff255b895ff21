using Spectre.Console;

namespace Latch.Demo;

/// <summary>
/// Where the demo talks: progress and the summary on stdout, or, with <c>--json</c>, progress on stderr so stdout
/// carries only the JSON document.
/// </summary>
internal sealed class DemoConsole
{
    public DemoConsole(bool json)
    {
        Json = json;
        Out = json
            ? AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) })
            : AnsiConsole.Console;
    }

    public bool Json { get; }

    public IAnsiConsole Out { get; }

    public void Line(string markup) => Out.MarkupLine(markup);

    /// <summary>A progress line of a long step (plain text, shown dimmed and indented).</summary>
    public void Progress(string text) => Out.MarkupLine("    [grey]" + Markup.Escape(text) + "[/]");
}

/// <summary>A step's expectation did not hold; the message says what was seen.</summary>
internal sealed class DemoCheckException(string message) : Exception(message);

/// <summary>What a running step can do: say how it goes and leave its one-line result for the summary.</summary>
internal sealed class StepContext(DemoConsole console)
{
    public string Detail { get; set; } = "";

    public void Progress(string text) => console.Progress(text);
}

/// <summary>Runs the demo's steps in order, timing each, printing progress, and keeping the record the summary shows.</summary>
internal sealed class StepRunner(DemoConsole console, TimeProvider time)
{
    private readonly List<DemoStep> _steps = [];

    public IReadOnlyList<DemoStep> Steps => _steps;

    public bool AnyFailed => _steps.Any(s => s.Outcome == StepOutcome.Failed);

    public async Task<T> RunAsync<T>(string id, string title, Func<StepContext, Task<T>> body)
    {
        console.Line($"[bold blue]▶[/] {Markup.Escape(title)}");
        var context = new StepContext(console);
        var started = time.GetTimestamp();
        try
        {
            var value = await body(context);
            var seconds = time.GetElapsedTime(started).TotalSeconds;
            _steps.Add(new DemoStep(id, title, StepOutcome.Ok, seconds, context.Detail));
            console.Line($"  [green]✓[/] {Markup.Escape(context.Detail)} [grey]({seconds:0.0} s)[/]");
            return value;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var seconds = time.GetElapsedTime(started).TotalSeconds;
            _steps.Add(new DemoStep(id, title, StepOutcome.Failed, seconds, e.Message));
            console.Line($"  [red]✗ {Markup.Escape(e.Message)}[/] [grey]({seconds:0.0} s)[/]");
            throw new DemoFailedException(id, e);
        }
    }

    public Task RunAsync(string id, string title, Func<StepContext, Task> body) =>
        RunAsync(id, title, async context =>
        {
            await body(context);
            return true;
        });

    /// <summary>Records a step this mode cannot do, with the reason.</summary>
    public void Skip(string id, string title, string reason)
    {
        _steps.Add(new DemoStep(id, title, StepOutcome.Skipped, 0, reason));
        console.Line($"[bold grey]–[/] {Markup.Escape(title)}: [yellow]skipped[/] — {Markup.Escape(reason)}");
    }
}

/// <summary>A step failed; the demo stops, cleans up and reports it.</summary>
internal sealed class DemoFailedException(string step, Exception inner) : Exception($"step '{step}' failed: {inner.Message}", inner)
{
    public string Step { get; } = step;
}
