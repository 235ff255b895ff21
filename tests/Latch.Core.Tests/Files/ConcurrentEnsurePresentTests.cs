using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Latch.Core.Files;
using Latch.Testing;

namespace Latch.Core.Tests.Files;

/// <summary>
/// The merge engine and SafeFile together, the way every Latch writer uses them: many writers (threads and
/// separate processes) ensuring keys at once lose no key, duplicate none, and leave the user's lines alone.
/// </summary>
public sealed class ConcurrentEnsurePresentTests : IDisposable
{
    private readonly TestTree _tree = new();
    private readonly uint _uid;
    private readonly uint _gid;

    public ConcurrentEnsurePresentTests() => (_uid, _gid) = TestTree.UnusedIds();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public void Dispose() => _tree.Dispose();

    [Fact]
    public async Task EnsurePresent_from_eight_threads_and_two_processes_loses_nothing_and_duplicates_nothing()
    {
        Requires.Root();
        // the user's own content: options, a comment, a malformed line, CRLF and no final newline
        var userContent = "# my keys\r\nrestrict,command=\"echo hi\" " + NewKey("own") + "\r\nssh-ed25519 AAAAbroken pasted\r\n" + NewKey("own2");
        var target = _tree.MakeHomeWithKeys("alice", _uid, _gid, keys: userContent);

        // every writer ensures its own keys and the same shared keys
        var shared = Enumerable.Range(0, 10).Select(i => NewKey($"shared{i}")).ToArray();
        var perWriter = Enumerable.Range(0, 10).Select(w => Enumerable.Range(0, 12).Select(i => NewKey($"w{w}-{i}")).ToArray()).ToArray();
        var uid = _uid.ToString(CultureInfo.InvariantCulture);
        var gid = _gid.ToString(CultureInfo.InvariantCulture);
        var children = new List<ChildProcess>();
        try
        {
            for (var w = 8; w < 10; w++)
            {
                var keysFile = _tree.MakeFile($"keys{w}", string.Join('\n', perWriter[w].Concat(shared)) + "\n", 0, 0, TestTree.Mode0600);
                children.Add(new ChildProcess("ensure", target.Home, target.RelativePath, uid, gid, keysFile));
            }

            var options = new SafeFileOptions { LockTimeout = TimeSpan.FromMinutes(2) };
            var threads = Enumerable.Range(0, 8).Select(w => Task.Factory.StartNew(() =>
            {
                foreach (var line in shared.Reverse().Concat(perWriter[w]))
                {
                    var key = SshPublicKey.Parse(line);
                    SafeFile.Update(target, current =>
                    {
                        var document = AuthorizedKeysDocument.Parse(current ?? []);
                        return document.EnsurePresent([key]) == 0 ? null : document.ToBytes();
                    }, options, Token);
                }
            }, Token, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
            await Task.WhenAll(threads);
            foreach (var child in children)
            {
                Assert.Equal(0, child.WaitForExit());
                Assert.Equal("", await child.StandardError);
            }
        }
        finally
        {
            foreach (var child in children)
            {
                child.Dispose();
            }
        }

        var final = File.ReadAllBytes(target.Home + "/.ssh/authorized_keys");
        // the user's bytes stay first and unchanged; the only change allowed is the final newline they lacked
        Assert.StartsWith(userContent + "\r\n", Encoding.ASCII.GetString(final), StringComparison.Ordinal);
        var document = AuthorizedKeysDocument.Parse(final);
        var identities = document.Keys.Select(k => k.Identity).ToList();
        Assert.Equal(identities.Count, identities.Distinct().Count());
        foreach (var expected in shared.Concat(perWriter.SelectMany(k => k)))
        {
            Assert.True(document.Contains(SshPublicKey.Parse(expected).Identity), "missing " + expected);
        }

        Assert.Equal(2 + shared.Length + perWriter.Sum(k => k.Length), identities.Count);
        Assert.Single(document.Lines, l => l.Kind == LineKind.Malformed);
    }

    /// <summary>A well-formed ed25519 key line with 32 random key bytes.</summary>
    private static string NewKey(string comment)
    {
        var type = "ssh-ed25519"u8.ToArray();
        var blob = new byte[4 + type.Length + 4 + 32];
        blob[3] = (byte)type.Length;
        type.CopyTo(blob, 4);
        blob[4 + type.Length + 3] = 32;
        RandomNumberGenerator.Fill(blob.AsSpan(blob.Length - 32));
        return $"ssh-ed25519 {Convert.ToBase64String(blob)} {comment}";
    }
}
