using System.Security.Cryptography;

namespace Latch.Cli.Tests.Infrastructure;

/// <summary>Well-formed public key lines built in memory (random ed25519-shaped blobs: the script only compares text).</summary>
internal static class TestKeys
{
    public static string Ed25519(string? comment = null, int? seed = null)
    {
        var point = new byte[32];
        if (seed is { } s)
        {
            new Random(s).NextBytes(point);
        }
        else
        {
            RandomNumberGenerator.Fill(point);
        }

        var blob = new byte[4 + 11 + 4 + 32];
        blob[3] = 11;
        "ssh-ed25519"u8.CopyTo(blob.AsSpan(4));
        blob[18] = 32;
        point.CopyTo(blob, 19);
        var line = "ssh-ed25519 " + Convert.ToBase64String(blob);
        return comment is null ? line : line + " " + comment;
    }
}
