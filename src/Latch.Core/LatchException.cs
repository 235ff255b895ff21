namespace Latch.Core;

/// <summary>The root of Latch's own exceptions. Messages say what went wrong and what to do.</summary>
public class LatchException : Exception
{
    public LatchException() { }

    public LatchException(string message) : base(message) { }

    public LatchException(string message, Exception innerException) : base(message, innerException) { }
}
