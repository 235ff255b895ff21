using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Latch.Core.Keys;

/// <summary>
/// Checks key text from outside (a user, an API, a file) before it goes anywhere near a shell script or an
/// authorized_keys file: exactly one line, no line breaks or NUL, at most 8 KiB (sshd's documented line
/// limit), printable ASCII only, a known key type with a valid blob, options only when allowed, and a
/// comment free of shell metacharacters.
/// </summary>
public static class KeyValidator
{
    /// <summary>sshd(8): lines are "up to a limit of 8 kilobytes".</summary>
    public const int MaxLineBytes = 8192;

    // Letters and digits plus punctuation that means nothing to a shell, even unquoted.
    private static readonly System.Buffers.SearchValues<char> s_commentChars = System.Buffers.SearchValues.Create(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 @._-+:,=/%^~[]{}#");

    public static bool TryValidate(
        string untrusted, KeyValidationOptions options, [NotNullWhen(true)] out SshPublicKey? key, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(options);
        key = null;
        error = Precheck(untrusted);
        if (error is not null)
        {
            return false;
        }

        var bytes = Encoding.ASCII.GetBytes(untrusted);
        if (KeyLineParser.Classify(bytes) != LineKind.Key)
        {
            error = "no key: the text is blank or a '#' comment; give one line 'type base64 [comment]'";
            return false;
        }

        var parseError = KeyLineParser.Parse(bytes, arena: null, deep: true, out var parsed);
        if (parseError is not null)
        {
            error = $"not a valid public key: {parseError}";
            return false;
        }

        error = CheckPolicy(parsed!, options, untrusted.Length);
        if (error is not null)
        {
            return false;
        }

        key = parsed!;
        return true;
    }

    private static string? Precheck(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return "no key given: the text is empty";
        }

        var byteCount = Encoding.UTF8.GetByteCount(text);
        if (byteCount > MaxLineBytes)
        {
            return $"key is {byteCount} bytes; an authorized_keys line may be at most {MaxLineBytes} (sshd's limit)";
        }

        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            var column = i + 1;
            switch (c)
            {
                case '\r' or '\n':
                    return $"key contains a line break ({(c == '\r' ? "CR" : "LF")}) at column {column}; give exactly one key line with no newline";
                case '\0':
                    return $"key contains a NUL character at column {column}";
                case '\t':
                    return $"key contains a tab at column {column}; separate fields with single spaces";
                case < ' ' or (char)0x7f:
                    return $"key contains control character U+{(int)c:X4} at column {column}";
                case > (char)0x7e:
                    return $"key contains non-ASCII character '{(char.IsSurrogate(c) ? "?" : c.ToString())}' (U+{(int)c:X4}) at column {column}; keys and comments must be printable ASCII";
            }
        }

        return null;
    }

    private static string? CheckPolicy(SshPublicKey key, KeyValidationOptions options, int lineLength)
    {
        if (key.Options.Count > 0 && !options.AllowOptions)
        {
            return $"key options ({key.OptionsText}) are not allowed here; give the bare key 'type base64 [comment]'";
        }

        if (key.IsCertificate && !options.AllowCertificates)
        {
            return $"certificates ({key.Type}) are not allowed here; give a plain public key";
        }

        if (key.KeyType.Algorithm == KeyAlgorithm.Rsa && key.Bits < options.MinimumRsaBits)
        {
            return $"RSA key is {key.Bits} bits; at least {options.MinimumRsaBits} are required (generate a new one with ssh-keygen -t ed25519)";
        }

        if (key.Comment is { } comment)
        {
            var bad = comment.AsSpan().IndexOfAnyExcept(s_commentChars);
            if (bad >= 0)
            {
                // the comment runs to the end of the (ASCII) line, so its column follows from its length
                return $"comment contains '{comment[bad]}' at column {lineLength - comment.Length + bad + 1}, which is not allowed (comments may use letters, digits, spaces and @._-+:,=/%^~[]{{}}#); remove it";
            }
        }

        return null;
    }
}
