using CsCheck;

namespace Latch.Core.Tests.Keys;

public sealed class MergePropertyTests
{
    private static readonly Gen<SshPublicKey[]> s_keys = Gen.OneOf(AuthorizedKeysGen.ValidLines).Array[0, 6]
        .Select(lines => lines.Select(SshPublicKey.Parse).ToArray());

    [Fact]
    public void EnsurePresent_only_appends_and_leaves_every_existing_line_untouched()
    {
        Gen.Select(AuthorizedKeysGen.File, s_keys).Sample(
            (content, keys) =>
            {
                var before = AuthorizedKeysDocument.Parse(content);
                var originalLines = before.Lines.Select(l => (Raw: l.Raw.ToArray(), Eol: l.Eol.ToArray(), l.Kind)).ToList();
                var document = AuthorizedKeysDocument.Parse(content);

                var appended = document.EnsurePresent(keys);
                var after = document.ToBytes();

                Assert.Equal(originalLines.Count + appended, document.Lines.Count);
                for (var i = 0; i < originalLines.Count; i++)
                {
                    Assert.True(originalLines[i].Raw.AsSpan().SequenceEqual(document.Lines[i].Raw.Span));
                    Assert.Equal(originalLines[i].Kind, document.Lines[i].Kind);
                    // the one allowed change: a last line without a newline gets one when something is appended
                    var newlineAdded = appended > 0 && i == originalLines.Count - 1 && originalLines[i].Eol.Length == 0;
                    Assert.True(newlineAdded ? document.Lines[i].Eol.Length > 0 : originalLines[i].Eol.AsSpan().SequenceEqual(document.Lines[i].Eol.Span));
                }

                var prefix = content.Length > 0 && appended > 0 && originalLines[^1].Eol.Length == 0
                    ? [.. content, .. document.Lines[originalLines.Count - 1].Eol.ToArray()]
                    : content;
                Assert.True(after.AsSpan().StartsWith(prefix), "existing bytes changed");
                Assert.All(keys, key => Assert.True(document.Contains(key.Identity)));
                Assert.Equal(
                    keys.Select(k => k.Identity).Distinct().Count(id => !before.Contains(id)),
                    appended);

                // a document that indexed its keys first (Contains) merges to the same bytes
                var indexed = AuthorizedKeysDocument.Parse(content);
                _ = indexed.Contains(new KeyIdentity("ssh-ed25519", [1, 2, 3]));
                Assert.Equal(appended, indexed.EnsurePresent(keys));
                Assert.True(after.AsSpan().SequenceEqual(indexed.ToBytes()));

                // idempotent, and what was written reads back as the same keys
                Assert.Equal(0, document.EnsurePresent(keys));
                Assert.True(after.AsSpan().SequenceEqual(document.ToBytes()));
                var reread = AuthorizedKeysDocument.Parse(after);
                Assert.All(keys, key => Assert.True(reread.Contains(key.Identity)));
                Assert.Equal(0, reread.EnsurePresent(keys));
            },
            iter: 3_000);
    }

    [Fact]
    public void Remove_touches_only_lines_whose_key_is_both_asked_for_and_managed()
    {
        Gen.Select(AuthorizedKeysGen.File, s_keys, s_keys).Sample(
            (content, asked, managedKeys) =>
            {
                var document = AuthorizedKeysDocument.Parse(content);
                var before = document.Lines.Select(l => (Raw: l.Raw.ToArray(), l.Kind, Identity: l.Key?.Identity)).ToList();
                var managed = managedKeys.Select(k => k.Identity).ToHashSet();
                var doomed = asked.Select(k => k.Identity).Where(managed.Contains).ToHashSet();

                var removed = document.Remove(asked.Select(k => k.Identity), managed);

                var kept = before.Where(l => l.Identity is not { } id || !doomed.Contains(id)).ToList();
                Assert.Equal(before.Count - kept.Count, removed);
                Assert.Equal(kept.Count, document.Lines.Count);
                for (var i = 0; i < kept.Count; i++)
                {
                    Assert.True(kept[i].Raw.AsSpan().SequenceEqual(document.Lines[i].Raw.Span));
                    Assert.Equal(i + 1, document.Lines[i].Number);
                }

                Assert.Equal(before.Count(l => l.Kind == LineKind.Malformed), document.Lines.Count(l => l.Kind == LineKind.Malformed));
                Assert.All(doomed, id => Assert.False(document.Contains(id)));
            },
            iter: 3_000);
    }

    [Fact]
    public void EnsurePresent_adds_a_newline_to_a_last_line_that_lacks_one_and_follows_crlf_files()
    {
        var existing = AuthorizedKeysGen.ValidLines[0];
        var added = SshPublicKey.Parse(AuthorizedKeysGen.ValidLines[3]);
        var document = AuthorizedKeysDocument.Parse(TestKeys.Bytes($"# keys\r\n{existing}"));

        Assert.Equal(1, document.EnsurePresent([added]));

        Assert.Equal($"# keys\r\n{existing}\r\n{added.ToLine()}\r\n", System.Text.Encoding.UTF8.GetString(document.ToBytes()));
    }

    [Fact]
    public void EnsurePresent_recognises_a_key_already_present_with_other_options_and_comment()
    {
        var blob = TestKeys.Ed25519Blob();
        var document = AuthorizedKeysDocument.Parse(TestKeys.Bytes(TestKeys.Line(blob, "old comment", "restrict") + "\n"));

        Assert.Equal(0, document.EnsurePresent([TestKeys.Key(blob, "new comment")]));
        Assert.Single(document.Lines);
    }

    [Fact]
    public void Remove_never_removes_a_key_the_caller_does_not_manage()
    {
        var mine = TestKeys.Key(TestKeys.Ed25519Blob(), "mine");
        var theirs = TestKeys.Key(TestKeys.Ed25519Blob(), "theirs");
        var document = AuthorizedKeysDocument.Parse(TestKeys.Bytes($"{mine.ToLine()}\n{theirs.ToLine()}\nnot a key\n"));

        Assert.Equal(1, document.Remove([mine.Identity, theirs.Identity], new HashSet<KeyIdentity> { mine.Identity }));

        Assert.Equal($"{theirs.ToLine()}\nnot a key\n", System.Text.Encoding.UTF8.GetString(document.ToBytes()));
    }
}
