using System.Security.Cryptography;
using System.Text;

namespace Latch.Azure;

/// <summary>
/// A value that must never reach a log or an exception message (token, password, secret value).
/// <see cref="ToString"/> is <c>***</c>, so records holding one print safely; read the value with <see cref="Reveal"/>.
/// </summary>
public sealed class Secret : IEquatable<Secret>
{
    private readonly string _value;

    public Secret(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        _value = value;
    }

    /// <summary>The number of characters, safe to log.</summary>
    public int Length => _value.Length;

    /// <summary>The secret text. Call only where the value is used, never to build a message.</summary>
    public string Reveal() => _value;

    public override string ToString() => "***";

    public bool Equals(Secret? other) =>
        other is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(_value), Encoding.UTF8.GetBytes(other._value));

    public override bool Equals(object? obj) => obj is Secret other && Equals(other);

    public override int GetHashCode() => _value.Length;
}
