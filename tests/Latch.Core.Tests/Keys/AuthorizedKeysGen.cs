using System.Text;
using CsCheck;

namespace Latch.Core.Tests.Keys;

/// <summary>Generators of authorized_keys files, from tidy to hostile.</summary>
internal static class AuthorizedKeysGen
{
    /// <summary>Valid key lines of every plain type, some with options and comments.</summary>
    public static readonly string[] ValidLines = BuildValidLines();

    public static readonly Gen<byte[]> ValidLine = Gen.OneOf(ValidLines).Select(Encoding.UTF8.GetBytes);

    private static readonly string[] s_fragments =
    [
        "", " ", "\t", "# a comment", "   # indented comment", "#", "\"", "\\\"", "command=\"", "restrict", "ssh-ed25519",
        "ssh-rsa AAAA", "no-pty,", "=", ",", "\0", "\r", "\u00e9t\u00e9", "ssh-foo AAAAC3NzaC1lZDI1NTE5",
        "command=\"echo \\\"a,b\\\" c\" ", "from=\"a b\",pty ", "AAAAC3NzaC1lZDI1NTE5AAAAI", "=", "====",
    ];

    private static readonly Gen<byte[]> s_fragment = Gen.OneOf(s_fragments).Select(Encoding.UTF8.GetBytes);

    private static readonly Gen<byte[]> s_randomBytes = Gen.Byte.Array[0, 60];

    private static readonly Gen<byte[]> s_invalidUtf8 = Gen.OneOf<byte[]>([0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xc0, 0xaf]);

    private static readonly Gen<byte[]> s_hugeLine = Gen.Int[8_000, 20_000].Select(n =>
        Encoding.ASCII.GetBytes("ssh-ed25519 " + new string('A', n - (n % 4))));

    /// <summary>A line body (no line ending of its own, though random bytes may contain CR, LF and NUL).</summary>
    public static readonly Gen<byte[]> LineBody = Gen.Frequency<byte[]>(
        (300, ValidLine),
        (100, Mutated(ValidLine)),
        (100, s_fragment),
        (100, Gen.Select(ValidLine, s_invalidUtf8, byte[] (line, bad) => [.. line, (byte)' ', .. bad])),
        (80, Gen.Select(s_fragment, ValidLine, byte[] (prefix, line) => [.. prefix, (byte)' ', .. line])),
        (80, s_randomBytes),
        (60, Gen.Select(s_fragment, s_fragment, s_randomBytes, byte[] (a, b, c) => [.. a, .. c, .. b])),
        (1, s_hugeLine));

    public static readonly Gen<byte[]> Eol = Gen.Frequency<byte[]>((10, Gen.Const("\n"u8.ToArray())), (3, Gen.Const("\r\n"u8.ToArray())), (1, Gen.Const("\r"u8.ToArray())));

    /// <summary>A whole file: lines with mixed endings, and sometimes no final newline.</summary>
    public static readonly Gen<byte[]> File = Gen.Select(
        Gen.Select(LineBody, Eol).Array[0, 8],
        Gen.Bool,
        (lines, finalNewline) =>
        {
            var bytes = new List<byte>();
            for (var i = 0; i < lines.Length; i++)
            {
                bytes.AddRange(lines[i].Item1);
                if (i < lines.Length - 1 || finalNewline)
                {
                    bytes.AddRange(lines[i].Item2);
                }
            }

            return bytes.ToArray();
        });

    private static Gen<byte[]> Mutated(Gen<byte[]> lines) => Gen.Select(lines, Gen.Int[0, 3], Gen.Int[0, 1000], Gen.Byte, (line, how, permille, value) =>
    {
        var at = permille * line.Length / 1000;
        return how switch
        {
            0 => line[..at],
            1 => [.. line[..at], value, .. line[at..]],
            2 when line.Length > 0 => [.. line[..Math.Min(at, line.Length - 1)], value, .. line[(Math.Min(at, line.Length - 1) + 1)..]],
            _ => [.. line[..at], .. line[Math.Min(line.Length, at + 7)..]],
        };
    });

    private static string[] BuildValidLines()
    {
        var blobs = new List<byte[]>();
        for (var i = 0; i < 6; i++)
        {
            blobs.Add(TestKeys.Ed25519Blob());
        }

        blobs.Add(TestKeys.RsaBlob());
        blobs.Add(TestKeys.RsaBlob());
        blobs.Add(TestKeys.EcdsaBlob(256));
        blobs.Add(TestKeys.EcdsaBlob(384));
        blobs.Add(TestKeys.EcdsaBlob(521));
        blobs.Add(TestKeys.SkEd25519Blob());
        blobs.Add(TestKeys.SkEcdsaBlob());
        string?[] options = [null, null, "restrict", "command=\"echo \\\"hi, there\\\"\",no-pty", "from=\"10.0.0.0/8\",expiry-time=\"20301231Z\"", "RESTRICT,PTY"];
        string?[] comments = [null, "alice@laptop", "two words", "ünïcödé", "trailing space "];
        var lines = new List<string>();
        for (var i = 0; i < blobs.Count; i++)
        {
            lines.Add(TestKeys.Line(blobs[i], comments[i % comments.Length], options[i % options.Length]));
            lines.Add(TestKeys.Line(blobs[i], comments[(i + 2) % comments.Length], options[(i + 3) % options.Length]));
        }

        return [.. lines];
    }
}
