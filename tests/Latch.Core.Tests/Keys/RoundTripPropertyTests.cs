using CsCheck;

namespace Latch.Core.Tests.Keys;

public sealed class RoundTripPropertyTests
{
    [Fact]
    public void Any_file_serialises_back_byte_for_byte()
    {
        AuthorizedKeysGen.File.Sample(
            content =>
            {
                var document = AuthorizedKeysDocument.Parse(content);
                // span comparison: xunit's collection equality is too slow for 100,000 runs
                Assert.True(content.AsSpan().SequenceEqual(document.ToBytes()), "the file did not serialise back byte for byte");
                CheckLines(document);
            },
            iter: 100_000);
    }

    [Fact]
    public void Arbitrary_bytes_serialise_back_byte_for_byte()
    {
        Gen.Byte.Array[0, 300].Sample(
            content => Assert.Equal(content, AuthorizedKeysDocument.Parse(content).ToBytes()),
            iter: 20_000);
    }

    [Fact]
    public void Line_endings_and_a_missing_final_newline_are_kept_per_line()
    {
        var key = AuthorizedKeysGen.ValidLines[0];
        var content = TestKeys.Bytes($"# crlf\r\n{key}\n\r\nlone\rcr\n{key}");

        var document = AuthorizedKeysDocument.Parse(content);

        Assert.Equal(["\r\n", "\n", "\r\n", "\n", ""], document.Lines.Select(l => System.Text.Encoding.ASCII.GetString(l.Eol.Span)));
        Assert.Equal([LineKind.Comment, LineKind.Key, LineKind.Blank, LineKind.Malformed, LineKind.Key], document.Lines.Select(l => l.Kind));
        Assert.Equal("lone\rcr", System.Text.Encoding.ASCII.GetString(document.Lines[3].Raw.Span));
        Assert.Equal(content, document.ToBytes());
    }

    [Fact]
    public void An_empty_file_has_no_lines_and_stays_empty()
    {
        var document = AuthorizedKeysDocument.Parse([]);
        Assert.Empty(document.Lines);
        Assert.Empty(document.ToBytes());
    }

    private static void CheckLines(AuthorizedKeysDocument document)
    {
        var reparsed = false;
        for (var i = 0; i < document.Lines.Count; i++)
        {
            var line = document.Lines[i];
            Assert.Equal(i + 1, line.Number);
            Assert.True(line.Raw.Span.IndexOf((byte)'\n') < 0, "a line holds a line feed");
            switch (line.Kind)
            {
                case LineKind.Key:
                    Assert.NotNull(line.Key);
                    Assert.Null(line.Error);
                    // the canonical line is a key line of its own with the same identity (a comment may hold a lone CR,
                    // which SshPublicKey.Parse refuses as a line break, so read it as a file)
                    if (!reparsed)
                    {
                        reparsed = true;
                        var again = AuthorizedKeysDocument.Parse(System.Text.Encoding.UTF8.GetBytes(line.Key.ToLine())).Lines.Single();
                        Assert.Equal(line.Key.Identity, again.Key!.Identity);
                    }

                    break;
                case LineKind.Malformed:
                    Assert.Null(line.Key);
                    Assert.NotNull(line.Error);
                    Assert.InRange(line.Error.Column, 1, line.Raw.Length + 1);
                    Assert.False(string.IsNullOrWhiteSpace(line.Error.Message));
                    break;
                default:
                    Assert.Null(line.Key);
                    Assert.Null(line.Error);
                    break;
            }
        }
    }
}
