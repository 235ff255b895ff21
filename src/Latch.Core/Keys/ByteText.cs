using System.Text;

namespace Latch.Core.Keys;

/// <summary>Renders untrusted bytes for error messages: printable ASCII as is, everything else as \xNN.</summary>
internal static class ByteText
{
    public static string Printable(ReadOnlySpan<byte> bytes, int max = 64)
    {
        var builder = new StringBuilder(Math.Min(bytes.Length, max) + 8);
        for (var i = 0; i < bytes.Length && i < max; i++)
        {
            var b = bytes[i];
            if (b is >= 0x20 and < 0x7f && b != (byte)'\\')
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append(b == (byte)'\\' ? "\\\\" : $"\\x{b:x2}");
            }
        }

        if (bytes.Length > max)
        {
            builder.Append('…');
        }

        return builder.ToString();
    }

    /// <summary>One byte named for a person: 'x', or "carriage return (0x0d)", or "byte 0xc3".</summary>
    public static string Describe(byte b) => b switch
    {
        0 => "NUL byte (0x00)",
        (byte)'\r' => "carriage return (0x0d)",
        (byte)'\n' => "line feed (0x0a)",
        (byte)'\t' => "tab (0x09)",
        < 0x20 or 0x7f => $"control character 0x{b:x2}",
        >= 0x80 => $"non-ASCII byte 0x{b:x2}",
        _ => $"'{(char)b}'",
    };

    public static string Plural(long count, string noun) => count == 1 ? $"1 {noun}" : $"{count} {noun}s";
}
