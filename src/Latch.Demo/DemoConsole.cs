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
        // into a file or a CI log nothing wraps lines for us: do not cut them at the default 80 columns
        if (json ? Console.IsErrorRedirected : Console.IsOutputRedirected)
        {
            Out.Profile.Width = 200;
        }
    }

    public bool Json { get; }

    public IAnsiConsole Out { get; }

    public void Line(string markup) => Out.MarkupLine(markup);

    /// <summary>A progress line of a long step (plain text, shown dimmed and indented).</summary>
    public void Progress(string text) => Out.MarkupLine("    [grey]" + Markup.Escape(text) + "[/]");
}

/// <summary>A step's expectation did not hold; the message says what was seen.</summary>
internal sealed class DemoCheckException(string message) : Exception(message);

/// <summary>Waiting for what a step expects, the same way in both demo modes.</summary>
internal static class DemoChecks
{
    /// <summary>Re-checks <paramref name="condition"/> every <paramref name="poll"/> for up to 20 s, then fails the step with <paramref name="failure"/>.</summary>
    public static async Task Eventually(TimeSpan poll, Func<Task<bool>> condition, string failure, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(20));
        try
        {
            while (!await condition())
            {
                await Task.Delay(poll, deadline.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new DemoCheckException(failure + " within 20 s");
        }
    }
}

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
