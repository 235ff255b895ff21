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

    public AzureRequestException(string message, int? status, string? errorCode, int attempts, Exception? innerException = null)
        : this(message, status, innerException)
    {
        ErrorCode = errorCode;
        Attempts = attempts;
    }

    /// <summary>The HTTP status code, or null when no response arrived (timeout, reset).</summary>
    public int? Status { get; }

    /// <summary>The service's error code (ARM/Key Vault <c>error.code</c>, e.g. <c>AuthorizationFailed</c>), when it sent one.</summary>
    public string? ErrorCode { get; }

    /// <summary>How many requests were sent before giving up (0 when unknown).</summary>
    public int Attempts { get; }
}
