using Latch.Core;

namespace Latch.Agent.Provisioning;

/// <summary>
/// A provisioning step failed. <see cref="Step"/> names it (user, keys, sshd…) and <see cref="Code"/> says why in one
/// word (InvalidUserName, UidChanged…); both go into the NotReady report's description, with the message.
/// </summary>
internal sealed class ProvisioningException : LatchException
{
    public ProvisioningException() { }

    public ProvisioningException(string message) : base(message) { }

    public ProvisioningException(string message, Exception innerException) : base(message, innerException) { }

    public ProvisioningException(string step, string code, string message, Exception? innerException = null)
        : base(message, innerException ?? new InvalidOperationException(message))
    {
        Step = step;
        Code = code;
    }

    public string Step { get; } = "provision";

    public string Code { get; } = "Failed";

    /// <summary>The NotReady description: "step 'user' failed (InvalidUserName): …".</summary>
    public string Description => $"latchd: step '{Step}' failed ({Code}): {Message}";
}
