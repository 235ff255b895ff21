using System.Globalization;
using System.Text;
using Latch.Core.Files;

namespace Latch.Core.Tests.Files;

/// <summary>
/// SafeFile across real processes (Latch.SafeFileChild): SIGKILL at random points never leaves a partial
/// file, and concurrent writers in two processes and eight threads never lose an update.
/// </summary>
public sealed class SafeFileProcessTests : IDisposable
{
    private readonly TestTree _tree = new();
    private readonly uint _uid;
    private readonly uint _gid;

    public SafeFileProcessTests() => (_uid, _gid) = TestTree.UnusedIds();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public void Dispose() => _tree.Dispose();

    [Fact]
    public void A_writer_killed_at_random_points_leaves_the_old_or_the_new_content_never_a_partial_file()
    {
        var target = _tree.MakeHomeWithKeys("alice", _uid, _gid, keys: null);
        var keys = target.Home + "/.ssh/authorized_keys";
        // big enough that a write takes many pages, different sizes so a mix or a truncation shows
        byte[] a = KeyLines('a', 3_000);
        byte[] b = KeyLines('b', 4_500);
        var fileA = _tree.MakeFile("content-a", Encoding.ASCII.GetString(a), 0, 0, TestTree.Mode0600);
        var fileB = _tree.MakeFile("content-b", Encoding.ASCII.GetString(b), 0, 0, TestTree.Mode0600);
        SafeFile.Update(target, _ => a, cancellationToken: Token);

        var writes = 0;
        var kills = 0;
        var killedMidWrite = 0;
        for (var round = 0; writes < 200 && round < 100; round++)
        {
            using var child = new ChildProcess("alternate", target.Home, target.RelativePath,
                _uid.ToString(CultureInfo.InvariantCulture), _gid.ToString(CultureInfo.InvariantCulture), fileA, fileB, "100000");
            Assert.Equal("ready", child.ReadLine(Token));

            // let it finish a random number of writes, then kill it a random moment into the next one
            var finished = Random.Shared.Next(1, 16);
            for (var i = 0; i < finished; i++)
            {
                Assert.NotNull(child.ReadLine(Token));
            }

            Thread.SpinWait(Random.Shared.Next(0, 200_000));
            child.KillHard();
            kills++;
            writes += finished;

            var content = File.ReadAllBytes(keys);
            Assert.True(content.AsSpan().SequenceEqual(a) || content.AsSpan().SequenceEqual(b),
                $"after kill {kills} the file has {content.Length} bytes, neither content A ({a.Length}) nor B ({b.Length})");
            var status = TestLibc.LStat(keys);
            Assert.Equal((true, _uid, _gid, (uint)TestTree.Mode0600, 1u), (status.IsRegularFile, status.Uid, status.Gid, status.Permissions, status.LinkCount));
            var names = Directory.EnumerateFileSystemEntries(target.Home + "/.ssh").Select(Path.GetFileName).ToList();
            Assert.All(names, name => Assert.True(name == "authorized_keys" || AtomicReplace.IsTempName(name!, "authorized_keys"), $"unexpected {name}"));
            killedMidWrite += names.Count - 1;
        }

        Assert.True(writes >= 200, $"only {writes} writes in {kills} rounds");
        TestContext.Current.TestOutputHelper?.WriteLine($"{writes} writes, {kills} kills, {killedMidWrite} of them between creating and renaming a temp file");

        // the next writer removes whatever temp file a killed one left behind
        SafeFile.Update(target, current => current.AsSpan().SequenceEqual(a) ? b : a, cancellationToken: Token);
        Assert.Equal(["authorized_keys"], Directory.EnumerateFileSystemEntries(target.Home + "/.ssh").Select(Path.GetFileName));
    }

    [Fact]
    public async Task Two_processes_and_eight_threads_appending_at_once_lose_no_line()
    {
        const int ChildLines = 40;
        const int ThreadLines = 20;
        var target = _tree.MakeHomeWithKeys("alice", _uid, _gid, keys: null);
        var uid = _uid.ToString(CultureInfo.InvariantCulture);
        var gid = _gid.ToString(CultureInfo.InvariantCulture);
        using var first = new ChildProcess("append", target.Home, target.RelativePath, uid, gid, "process1", ChildLines.ToString(CultureInfo.InvariantCulture));
        using var second = new ChildProcess("append", target.Home, target.RelativePath, uid, gid, "process2", ChildLines.ToString(CultureInfo.InvariantCulture));
        var options = new SafeFileOptions { LockTimeout = TimeSpan.FromMinutes(2) };
        var threads = Enumerable.Range(0, 8).Select(t => Task.Factory.StartNew(() =>
        {
            for (var i = 0; i < ThreadLines; i++)
            {
                var line = Encoding.ASCII.GetBytes($"thread{t}-{i}\n");
                SafeFile.Update(target, current => [.. current ?? [], .. line], options, Token);
            }
        }, Token, TaskCreationOptions.LongRunning, TaskScheduler.Default));
        await Task.WhenAll(threads);

        Assert.Equal(0, first.WaitForExit());
        Assert.Equal(0, second.WaitForExit());
        Assert.Equal("", await first.StandardError + await second.StandardError);
        var expected = Enumerable.Range(0, ChildLines).SelectMany(i => new[] { $"process1-{i}", $"process2-{i}" })
            .Concat(Enumerable.Range(0, 8).SelectMany(t => Enumerable.Range(0, ThreadLines).Select(i => $"thread{t}-{i}")))
            .Order(StringComparer.Ordinal);
        var lines = File.ReadAllLines(target.Home + "/.ssh/authorized_keys");
        Assert.Equal(expected, lines.Order(StringComparer.Ordinal));

        // and each writer's own lines stay in the order it wrote them
        foreach (var writer in new[] { "process1", "process2" }.Concat(Enumerable.Range(0, 8).Select(t => $"thread{t}")))
        {
            var mine = lines.Where(l => l.StartsWith(writer + "-", StringComparison.Ordinal)).Select(l => int.Parse(l[(writer.Length + 1)..], CultureInfo.InvariantCulture));
            Assert.Equal(mine.Order(), mine);
        }
    }

    private static byte[] KeyLines(char fill, int count)
    {
        var text = new StringBuilder();
        for (var i = 0; i < count; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"ssh-ed25519 AAAA{new string(fill, 40)}{i:D6} user{i}\n");
        }

        return Encoding.ASCII.GetBytes(text.ToString());
    }
}
