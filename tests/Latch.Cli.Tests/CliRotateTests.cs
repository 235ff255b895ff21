using Latch.Cli.Keys;
using Latch.Cli.Tests.Infrastructure;
using Latch.Core.Keys;

namespace Latch.Cli.Tests;

public sealed class CliRotateTests
{
    private static string Identity(string line) => string.Join(' ', line.Split(' ').Take(2));

    /// <summary>The public key line Key Vault designates for a VM now (what connect would log in with).</summary>
    private static string CurrentKey(CliWorld world, string vm)
    {
        var value = world.Secret($"latch-{vm}-key")!;
        if (OpenSshPrivateKey.TryGetPublicKeyLine(value, out var line, out _))
        {
            return line;
        }

        return Identity(value);
    }

    private static IReadOnlyList<string> KeysOn(EmulatedVm vm) =>
        [.. AuthorizedKeysDocument.Parse(File.ReadAllBytes(vm.AuthorizedKeys)).Keys.Select(k => Identity(k.ToLine()))];

    [Fact]
    public async Task Rotating_fifty_vms_with_five_failures_never_loses_access_and_a_rerun_completes()
    {
        await using var world = await CliWorld.StartAsync(50, seededKey: i => TestKeys.Ed25519($"old-{i}", seed: 7000 + i));
        var failing = new[] { "vm03", "vm11", "vm24", "vm37", "vm48" };
        foreach (var vm in failing)
        {
            await world.AddFaultAsync("arm", "status=403", world.VmPath(vm) + "/runCommand", 10_000);
        }

        var args = new[] { "keys", "rotate", "--all", "--verify", "check", "--sync-method", "run-command", "--parallel", "16", "--sync-timeout", "120" };
        var first = await world.LatchAsync(args);
        Assert.True(first.ExitCode == ExitCodes.Problems, first.ToString());
        Assert.Contains("5 of 50 VM(s) unfinished", first.Stdout, StringComparison.Ordinal);
        foreach (var vm in world.Vms)
        {
            var keys = KeysOn(vm);
            // the key Key Vault hands out now works on the VM, whether or not its rotation finished
            Assert.Contains(CurrentKey(world, vm.Name), keys);
            if (failing.Contains(vm.Name))
            {
                Assert.Contains($"{vm.Name}\tstaged\tadding the new key failed", first.Stdout, StringComparison.Ordinal);
                Assert.Equal([Identity(TestKeys.Ed25519(seed: 7000 + world.Vms.ToList().IndexOf(vm)))], keys);
            }
            else
            {
                Assert.Contains($"{vm.Name}\tdone", first.Stdout, StringComparison.Ordinal);
                Assert.Single(keys);
            }
        }

        await world.ClearFaultsAsync();
        var second = await world.LatchAsync(args);
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("resuming rotation", second.Stderr, StringComparison.Ordinal);
        foreach (var vm in world.Vms)
        {
            var keys = KeysOn(vm);
            Assert.Equal([CurrentKey(world, vm.Name)], keys);
            Assert.NotEqual(Identity(TestKeys.Ed25519(seed: 7000 + world.Vms.ToList().IndexOf(vm))), keys[0]);
            Assert.Null(world.Secret($"latch-{vm.Name}-key-next")); // the staged copy is retired (disabled)
        }

        var stateFiles = Directory.GetFiles(Path.Combine(world.Home, ".local", "state", "latch"), "rotate-*.json");
        Assert.Single(stateFiles);
        Assert.EndsWith(".done.json", stateFiles[0], StringComparison.Ordinal);
    }
}
