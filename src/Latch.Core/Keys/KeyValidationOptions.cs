namespace Latch.Core.Keys;

/// <summary>What <see cref="KeyValidator"/> lets through besides a plain <c>type base64 [comment]</c> line.</summary>
public sealed record KeyValidationOptions
{
    /// <summary>Bare key, no options, certificates allowed, RSA from 2048 bits.</summary>
    public static KeyValidationOptions Default { get; } = new();

    /// <summary>Allow options before the key type (e.g. <c>restrict,from="…"</c>). Off by default.</summary>
    public bool AllowOptions { get; init; }

    public bool AllowCertificates { get; init; } = true;

    /// <summary>Smallest RSA modulus accepted. sshd itself refuses below 1024.</summary>
    public int MinimumRsaBits { get; init; } = 2048;
}
