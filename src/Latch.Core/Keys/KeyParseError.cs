namespace Latch.Core.Keys;

/// <summary>Why a line is not a usable key: <see cref="Message"/> says what is wrong, <see cref="Column"/> where (1-based, in bytes).</summary>
public sealed record KeyParseError(string Message, int Column)
{
    public override string ToString() => $"{Message} at column {Column}";
}
