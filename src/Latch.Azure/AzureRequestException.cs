using Latch.Core;

namespace Latch.Azure;

/// <summary>A request to an Azure endpoint failed; carries the HTTP status when there was one.</summary>
public sealed class AzureRequestException : LatchException
{
    public AzureRequestException() { }

    public AzureRequestException(string message) : base(message) { }

    public AzureRequestException(string message, Exception innerException) : base(message, innerException) { }

    public AzureRequestException(string message, int? status, Exception? innerException = null)
        : base(message, innerException ?? new InvalidOperationException(message)) => Status = status;

    /// <summary>The HTTP status code, or null when no response arrived (timeout, reset).</summary>
    public int? Status { get; }
}
