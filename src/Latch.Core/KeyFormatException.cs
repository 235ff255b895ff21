using Latch.Core.Keys;

namespace Latch.Core;

/// <summary>A public key line that cannot be used; <see cref="Error"/> says what is wrong and at which column.</summary>
public sealed class KeyFormatException : LatchException
{
    public KeyFormatException() { }

    public KeyFormatException(string message) : base(message) { }

    public KeyFormatException(string message, Exception innerException) : base(message, innerException) { }

    public KeyFormatException(KeyParseError error) : base(error?.ToString() ?? "invalid key line")
    {
        Error = error;
    }

    public KeyParseError? Error { get; }
}
