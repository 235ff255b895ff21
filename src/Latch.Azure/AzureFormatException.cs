using Latch.Core;

namespace Latch.Azure;

/// <summary>A document from Azure (ovf-env.xml, goal state, IMDS JSON) is malformed; the message names what and where.</summary>
public sealed class AzureFormatException : LatchException
{
    public AzureFormatException() { }

    public AzureFormatException(string message) : base(message) { }

    public AzureFormatException(string message, Exception innerException) : base(message, innerException) { }
}
