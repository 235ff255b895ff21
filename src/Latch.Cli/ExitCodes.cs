namespace Latch.Cli;

/// <summary>The exit codes every latch command uses.</summary>
internal static class ExitCodes
{
    public const int Success = 0;

    /// <summary>The command ran and found a problem (e.g. a malformed key line).</summary>
    public const int Problems = 1;

    /// <summary>Bad usage or an input that could not be read.</summary>
    public const int UsageOrIo = 2;

    /// <summary>Interrupted by SIGINT (128 + 2), as shells report it.</summary>
    public const int Interrupted = 130;

    /// <summary>Stopped by SIGTERM (128 + 15).</summary>
    public const int Terminated = 143;
}
