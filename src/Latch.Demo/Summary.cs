using Spectre.Console;

namespace Latch.Demo;

/// <summary>The end of the demo: a table of the steps with their timings, then the audit records.</summary>
internal static class Summary
{
    public static void Print(DemoConsole console, DemoResult result)
    {
        var table = new Table().Border(TableBorder.Rounded).Title($"latch demo ({result.Mode} mode)");
        table.AddColumn("Step");
        table.AddColumn("Result");
        table.AddColumn(new TableColumn("Time").RightAligned());
        table.AddColumn("What happened");
        foreach (var step in result.Steps)
        {
            var outcome = step.Outcome switch
            {
                StepOutcome.Ok => "[green]ok[/]",
                StepOutcome.Failed => "[red]FAILED[/]",
                _ => "[yellow]skipped[/]",
            };
            table.AddRow(Markup.Escape(step.Id), outcome, step.Outcome == StepOutcome.Skipped ? "" : $"{DemoWorld.Seconds(step.Seconds)} s", Markup.Escape(step.Detail));
        }

        table.AddRow("cleanup", result.Cleanup.StartsWith("FAILED", StringComparison.Ordinal) ? "[red]FAILED[/]" : "[green]ok[/]", "", Markup.Escape(result.Cleanup));
        table.Caption($"total {DemoWorld.Seconds(result.TotalSeconds)} s — {(result.Succeeded ? "every step as expected" : "see the failed step")}");
        console.Out.Write(table);

        if (result.Audit.Count > 0)
        {
            console.Line("[bold]Audit records[/] (JSON lines; names, fingerprints and timings, never key material):");
            foreach (var group in result.Audit.GroupBy(a => a.Source))
            {
                console.Line($"  [grey]{Markup.Escape(group.Key)}[/]");
                foreach (var entry in group)
                {
                    console.Out.WriteLine("    " + entry.Record);
                }
            }
        }
    }
}
