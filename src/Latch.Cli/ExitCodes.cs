namespace Latch.Cli;

/// <summary>
/// The exit codes every latch command uses. <c>latch connect</c> exits with ssh's own code once ssh runs
/// (ssh uses 255 for its errors); <c>latch run</c> exits with the remote script's code.
/// </summary>
internal static class ExitCodes
{
    public const int Success = 0;

    /// <summary>The command ran and found a problem (malformed key line, a failed doctor check, a VM left unfinished).</summary>
    public const int Problems = 1;

    /// <summary>Bad usage or an input that could not be read.</summary>
    public const int UsageOrIo = 2;

    /// <summary>The configuration file or a setting is invalid.</summary>
    public const int Config = 3;

    /// <summary>No Azure credentials, or the sign-in was refused.</summary>
    public const int Auth = 4;

    /// <summary>The VM (or resource group, subscription, secret) does not exist or the name is ambiguous.</summary>
    public const int NotFound = 5;

    /// <summary>An Azure request (ARM, Key Vault) failed.</summary>
    public const int Azure = 6;

    /// <summary>A key sync (keys sync / rotate) failed on at least one VM.</summary>
    public const int SyncFailed = 7;

    /// <summary>SSH did not answer within --connect-timeout.</summary>
    public const int SshUnreachable = 8;

    /// <summary>The ssh program could not be started.</summary>
    public const int SshExecFailed = 9;

    /// <summary>Interrupted by SIGINT (128 + 2), as shells report it.</summary>
    public const int Interrupted = 130;

    /// <summary>Terminated by SIGTERM (128 + 15).</summary>
    public const int Terminated = 143;

    public const string Epilogue = """
        Exit codes:
          0    success (connect: ssh's own exit code; run: the remote command's)
          1    problems found (lint, doctor, rotate left VMs unfinished)
          2    bad usage or unreadable input
          3    invalid configuration
          4    Azure sign-in failed or no credentials
          5    VM, resource group, subscription or secret not found (or ambiguous)
          6    an Azure request failed
          7    key sync failed on at least one VM
          8    SSH did not come up within --connect-timeout
          9    the ssh program could not be started
          130  interrupted (SIGINT); 143 terminated (SIGTERM)

        Configuration: ~/.config/latch/config.toml (or $LATCH_CONFIG); see 'latch config get'.
        Emulator: --emulator URL or LATCH_EMULATOR=URL (the latch-emulator control endpoint).
        """;
}

/// <summary>An expected failure with the exit code it maps to and a message that says what to do.</summary>
internal sealed class CliException(int exitCode, string message, Exception? inner = null) : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;
}
