using System.Diagnostics;
using Latch.Rig;

namespace Latch.VmTests;

public sealed class LatchdCacheTests
{
    [Fact]
    public async Task Staging_left_by_a_dead_publish_is_removed_and_a_live_ones_and_finished_builds_are_kept()
    {
        var root = Directory.CreateTempSubdirectory("latch-latchd-cache-").FullName;
        try
        {
            // a process that has exited: its pid is free (a reuse within this test is not a worry)
            using var gone = Process.Start(new ProcessStartInfo("true")) ?? throw new InvalidOperationException("could not start true");
            await gone.WaitForExitAsync(TestContext.Current.CancellationToken);
            var dead = gone.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var live = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
            foreach (var name in new[] { $"abc.tmp-{dead}", $"abc.tmp-{dead}-artifacts", $"def.tmp-{live}", $"def.tmp-{live}-artifacts", "abc", "odd.tmp-notapid" })
            {
                Directory.CreateDirectory(Path.Combine(root, name, "obj"));
                await File.WriteAllTextAsync(Path.Combine(root, name, "obj", "x"), "x", TestContext.Current.CancellationToken);
            }

            var removed = Latchd.RemoveStaleStaging(root);

            Assert.Equal([$"abc.tmp-{dead}", $"abc.tmp-{dead}-artifacts"], removed.Order(StringComparer.Ordinal));
            Assert.Equal(
                ["abc", $"def.tmp-{live}", $"def.tmp-{live}-artifacts", "odd.tmp-notapid"],
                Directory.EnumerateDirectories(root).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
