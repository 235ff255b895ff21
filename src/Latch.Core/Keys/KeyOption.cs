namespace Latch.Core.Keys;

/// <summary>
/// One authorized_keys option. <see cref="Name"/> is spelled as sshd(8) documents it (names are
/// case-insensitive in the file); <see cref="Value"/> is the unquoted value of a name="value" option, with
/// <c>\"</c> turned back into <c>"</c>, or null for a flag such as <c>restrict</c>.
/// </summary>
public sealed record KeyOption(string Name, string? Value);
