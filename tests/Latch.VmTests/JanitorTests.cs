using System.Security.Cryptography;
using Latch.Rig;

namespace Latch.VmTests;

public sealed class JanitorTests
{
    [Fact]
    public async Task Sweep_removes_what_a_killed_run_left_and_keeps_live_runs()
    {
        RigRequires.All();
        var ct = TestContext.Current.CancellationToken;
        var dead = RandomNumberGenerator.GetHexString(6, lowercase: true);
        var live = RandomNumberGenerator.GetHexString(6, lowercase: true);
        var deadDir = Path.Combine(Path.GetTempPath(), "lt-" + dead);
        var liveNs = "lt-az-" + live;
        Directory.CreateDirectory(Janitor.OwnerDirectory);

        // A run that was killed: its owner (this shell) is gone, leaving a namespace with a process in it,
        // a mount under its directory, a loop device on an image there (a resource-disk test's) and its owner file.
        var crashed = await Command.RunAsync(
            [
                "bash", "-c",
                """
                set -e
                ns=lt-vm1-$1; dir=$2
                ip netns add "$ns"
                mkdir -p "$dir/vm1/root"
                mount -t tmpfs tmpfs "$dir/vm1/root"
                truncate -s 8M "$dir/vm1/resource.img"
                loop=$(losetup --find --show "$dir/vm1/resource.img")
                ip netns exec "$ns" sleep 600 </dev/null >/dev/null 2>&1 &
                echo $! "$loop"
                printf 'pid=%s\nstart=%s\ndir=%s\n' $$ "$(cut -d' ' -f22 /proc/$$/stat)" "$dir" > /run/latch-rig/$1.owner
                """,
                "sh", dead, deadDir,
            ],
            cancellationToken: ct);
        Assert.True(crashed.Succeeded, crashed.Stderr);
        var printed = crashed.Stdout.Trim().Split(' ');
        var orphan = int.Parse(printed[0], System.Globalization.CultureInfo.InvariantCulture);
        var loop = printed[1];
        Assert.Equal([loop], LoopDevices.Under(deadDir));

        // A run that is alive (this process) must survive the sweep.
        Janitor.WriteOwner(live, Path.Combine(Path.GetTempPath(), "lt-" + live));
        await Command.CheckAsync(["ip", "netns", "add", liveNs], cancellationToken: ct);
        try
        {
            // another test process starting now may sweep the dead run first: assert the outcome, not who did it
            var cleaned = await Janitor.SweepAsync(ct);

            Assert.DoesNotContain(live, cleaned);
            var namespaces = await NetNs.ListAsync(ct);
            Assert.DoesNotContain("lt-vm1-" + dead, namespaces);
            Assert.Contains(liveNs, namespaces);
            Assert.Empty(Mounts.Under(deadDir));
            Assert.Empty(LoopDevices.Under(deadDir));
            Assert.False(File.Exists($"/sys/block/{Path.GetFileName(loop)}/loop/backing_file"), $"{loop} is still attached");
            Assert.False(Directory.Exists(deadDir));
            Assert.False(File.Exists(Janitor.OwnerFile(dead)));
            Assert.True(File.Exists(Janitor.OwnerFile(live)));
            Assert.False(Directory.Exists($"/proc/{orphan}") && !IsZombie(orphan), $"the orphan {orphan} in the dead run's namespace still runs");
        }
        finally
        {
            // by backing file, never by number: the number may belong to another test by now
            await LoopDevices.DetachUnderAsync(deadDir, CancellationToken.None);
            await NetNs.DeleteAsync(liveNs, ct);
            Janitor.RemoveOwner(live);
        }
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)] == 'Z';
        }
        catch (IOException)
        {
            return true;
        }
    }
}
