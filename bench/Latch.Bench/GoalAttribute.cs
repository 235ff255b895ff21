namespace Latch.Bench;

/// <summary>The time one operation of a benchmark should stay under; bench/run.sh prints the verdict.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class GoalAttribute(double nanoseconds, string text) : Attribute
{
    public double Nanoseconds { get; } = nanoseconds;

    public string Text { get; } = text;
}
