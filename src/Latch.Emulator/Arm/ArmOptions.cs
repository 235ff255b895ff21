namespace Latch.Emulator;

/// <summary>How the emulated ARM behaves where Azure's timing matters.</summary>
internal sealed record ArmOptions
{
    /// <summary>Delay before a run-command script starts, like Azure's extension round trip (tests use zero).</summary>
    public TimeSpan RunCommandLatency { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>How long a run-command script may run before it is killed (with its process tree).</summary>
    public TimeSpan RunCommandTimeout { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>
    /// How many finished run-command operations stay queryable; older ones are forgotten first. Azure keeps them for
    /// hours, so this is sized for a whole fleet's sync (each keeps at most 4 KiB of stdout and of stderr).
    /// </summary>
    public int RetainedOperations { get; init; } = 4096;
}
