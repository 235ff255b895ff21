using System.Text.Json;
using System.Text.Json.Nodes;
using Latch.Cli.Tests.Infrastructure;

namespace Latch.Cli.Tests;

/// <summary>
/// connect's early key check (Sync/EarlyCheck.cs): the second connect starts its check over ssh at the address the first
/// one used, before ARM answers, and uses the answer only when ARM, Key Vault and the config resolve to exactly that.
/// A stale cache (moved address, rotated key, removed key) must cost time, never a wrong answer or a missed re-sync.
/// The client trusts the test sshd's host key through a known_hosts file, as an operator's ~/.ssh/known_hosts does.
/// </summary>
public sealed class CliEarlyCheckTests
{
    private static async Task<(CliWorld World, LocalSshd Sshd, Dictionary<string, string?> Env, string[] SshOptions)> StartAsync(params string[] alsoListenOn)
    {
        Requires.Tool("ssh", "openssh-client");
        var world = await CliWorld.StartAsync(1, withVault: false, user: "root");
        var vm = world.Vms[0];
        var sshd = await LocalSshd.StartAsync(world.Root, vm.PasswdPath, alsoListenOn);
        var config = Path.Combine(world.Root, "config.toml");
        await File.WriteAllTextAsync(config, $"[ssh]\nport = {sshd.Port}\nuser = \"root\"\nconnect_timeout = 20\n", TestContext.Current.CancellationToken);
        var knownHosts = Path.Combine(world.Root, "known_hosts");
        await File.WriteAllLinesAsync(knownHosts, [.. ((string[])["127.0.0.1", .. alsoListenOn]).Select(a => $"[{a}]:{sshd.Port} {sshd.HostPublicKey}")], TestContext.Current.CancellationToken);
        string[] options = ["-F", "/dev/null", "-o", "UserKnownHostsFile=" + knownHosts, "-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"];
        return (world, sshd, new Dictionary<string, string?> { ["LATCH_CONFIG"] = config }, options);
    }

    private static async Task WriteAuthorizedKeyAsync(EmulatedVm vm, string publicKey)
    {
        var sshDirectory = Path.GetDirectoryName(vm.AuthorizedKeys)!;
        Directory.CreateDirectory(sshDirectory);
        await File.WriteAllTextAsync(vm.AuthorizedKeys, publicKey + "\n", TestContext.Current.CancellationToken);
        File.SetUnixFileMode(sshDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.SetUnixFileMode(vm.AuthorizedKeys, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    /// <summary>Runs latch with <paramref name="env"/> and insists it exited 0 (else shows its output and sshd's log).</summary>
    private static async Task<CliResult> ConnectedAsync(CliWorld world, LocalSshd sshd, Dictionary<string, string?> env, string[] arguments)
    {
        var result = await world.LatchAsync(env, arguments);
        Assert.True(result.ExitCode == 0, result + "\n--- sshd\n" + sshd.Log);
        return result;
    }

    private static int Logins(LocalSshd sshd) => sshd.Log.Split('\n').Count(l => l.Contains("Accepted publickey", StringComparison.Ordinal));

    private static string VmCache(CliWorld world) => Path.Combine(world.Home, ".cache", "latch", "vms.json");

    private static async Task<JsonObject> CachedAsync(CliWorld world)
    {
        var root = JsonNode.Parse(await File.ReadAllTextAsync(VmCache(world), TestContext.Current.CancellationToken))!.AsObject();
        return root["vms"]!.AsArray().Single(v => (string?)v!["name"] == "vm00")!.AsObject();
    }

    /// <summary>Rewrites the cached entry of vm00 (what the last connect used) as a stale cache would have it.</summary>
    private static async Task EditCacheAsync(CliWorld world, Action<JsonObject> change)
    {
        var root = JsonNode.Parse(await File.ReadAllTextAsync(VmCache(world), TestContext.Current.CancellationToken))!.AsObject();
        var entry = root["vms"]!.AsArray().Single(v => (string?)v!["name"] == "vm00")!.AsObject();
        change(entry);
        await File.WriteAllTextAsync(VmCache(world), root.ToJsonString(), TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task The_second_connect_checks_the_key_early_at_the_last_address_and_its_session_reuses_that_login()
    {
        var (world, sshd, env, options) = await StartAsync();
        await using var _ = world;
        await using var __ = sshd;
        await WriteAuthorizedKeyAsync(world.Vms[0], world.LocalPublicKey);
        var first = await ConnectedAsync(world, sshd, env, ["--verbose", "connect", "vm00", "--", .. options, "true"]);
        Assert.DoesNotContain("early key check", first.Stderr, StringComparison.Ordinal);

        var before = Logins(sshd);
        var second = await ConnectedAsync(world, sshd, env, ["--verbose", "connect", "vm00", "--", .. options, "echo", "early-session"]);
        Assert.Contains("early-session", second.Stdout, StringComparison.Ordinal);
        Assert.Contains("early key check over ssh to root@127.0.0.1", second.Stderr, StringComparison.Ordinal);
        Assert.Contains("present on vm00 via ssh", second.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("not used", second.Stderr, StringComparison.Ordinal);
        Assert.Equal(before + 1, Logins(sshd)); // the check and the session: one login
        Assert.Equal(0, await world.RunCommandCountAsync());
        Assert.Equal(world.LocalPublicKey + "\n", world.Vms[0].ReadAuthorizedKeys());
        CliConnectTests.AssertTwoSshRecordsOfAPresentKey(world);
    }

    [Fact]
    public async Task An_early_answer_from_a_stale_address_is_not_used_and_the_session_goes_where_ARM_says()
    {
        // the VM "moved": the cache names 127.0.0.2, where a host the user also trusts answers (and has the key); ARM says 127.0.0.1
        var (world, sshd, env, options) = await StartAsync("127.0.0.2");
        await using var _ = world;
        await using var __ = sshd;
        await WriteAuthorizedKeyAsync(world.Vms[0], world.LocalPublicKey);
        var first = await ConnectedAsync(world, sshd, env, ["connect", "vm00", "--", .. options, "true"]);
        await EditCacheAsync(world, e => e["sshHost"] = "127.0.0.2");

        var second = await ConnectedAsync(world, sshd, env, ["--verbose", "connect", "vm00", "--", .. options, "echo", "session-to", "$SSH_CONNECTION"]);
        Assert.Contains("early key check over ssh to root@127.0.0.2", second.Stderr, StringComparison.Ordinal);
        Assert.Contains("early key check not used", second.Stderr, StringComparison.Ordinal);
        // SSH_CONNECTION is "client port server port": the user's session reached ARM's address, not the cached one
        var session = second.Stdout.Split('\n').Single(l => l.StartsWith("session-to", StringComparison.Ordinal)).Split(' ');
        Assert.Equal("127.0.0.1", session[3]);
        Assert.Equal("127.0.0.1", (string?)(await CachedAsync(world))["sshHost"]);
    }

    [Fact]
    public async Task A_stale_address_whose_host_key_is_not_known_gets_no_login_attempt()
    {
        var (world, sshd, env, options) = await StartAsync("127.0.0.2");
        await using var _ = world;
        await using var __ = sshd;
        await WriteAuthorizedKeyAsync(world.Vms[0], world.LocalPublicKey);
        // only 127.0.0.1 is trusted: a stranger at the stale address must not even see a login attempt
        var knownHosts = Path.Combine(world.Root, "known_hosts");
        await File.WriteAllTextAsync(knownHosts, $"[127.0.0.1]:{sshd.Port} {sshd.HostPublicKey}\n", TestContext.Current.CancellationToken);
        var first = await ConnectedAsync(world, sshd, env, ["connect", "vm00", "--", .. options, "true"]);
        await EditCacheAsync(world, e => e["sshHost"] = "127.0.0.2");
        var logins = Logins(sshd);

        var second = await ConnectedAsync(world, sshd, env, ["--verbose", "connect", "vm00", "--", .. options, "true"]);
        Assert.Contains("early key check over ssh to root@127.0.0.2", second.Stderr, StringComparison.Ordinal);
        Assert.Equal(logins + 1, Logins(sshd)); // the usual check's login only: the early ssh stopped at the host key
        Assert.Equal(0, await world.RunCommandCountAsync());
    }

    [Fact]
    public async Task When_the_host_key_is_not_in_known_hosts_the_early_check_is_refused_and_rests()
    {
        var (world, sshd, env, _) = await StartAsync();
        await using var _ = world;
        await using var __ = sshd;
        await WriteAuthorizedKeyAsync(world.Vms[0], world.LocalPublicKey);
        // the user trusts any host key (no known_hosts): the early check, which insists on a known one, cannot run
        string[] options = ["-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"];
        var first = await ConnectedAsync(world, sshd, env, ["connect", "vm00", "--", .. options, "true"]);

        var second = await ConnectedAsync(world, sshd, env, ["--verbose", "connect", "vm00", "--", .. options, "echo", "still-in"]);
        Assert.Contains("still-in", second.Stdout, StringComparison.Ordinal);
        Assert.Contains("early key check: ssh exited 255: Host key verification failed", second.Stderr, StringComparison.Ordinal);
        Assert.Contains("present on vm00 via ssh", second.Stderr, StringComparison.Ordinal);
        Assert.NotNull((await CachedAsync(world))["earlyCheckRestsUntil"]);

        var third = await ConnectedAsync(world, sshd, env, ["--verbose", "connect", "vm00", "--", .. options, "true"]);
        Assert.Contains("no early key check until", third.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, await world.RunCommandCountAsync());
    }

    [Fact]
    public async Task After_a_hostile_overwrite_the_early_check_fails_and_the_connect_still_resyncs()
    {
        var (world, sshd, env, options) = await StartAsync();
        await using var _ = world;
        await using var __ = sshd;
        var first = await ConnectedAsync(world, sshd, env, ["connect", "vm00", "--", .. options, "true"]);
        Assert.Equal(1, await world.RunCommandCountAsync());

        // the provisioning agent's rewrite, as in CliConnectTests (here directly: the cached "present" must not survive it)
        await WriteAuthorizedKeyAsync(world.Vms[0], TestKeys.Ed25519("provisioning-agent"));
        var second = await ConnectedAsync(world, sshd, env, ["--verbose", "connect", "vm00", "--", .. options, "echo", "back-in"]);
        Assert.Contains("early key check over ssh", second.Stderr, StringComparison.Ordinal);
        Assert.Contains("back-in", second.Stdout, StringComparison.Ordinal);
        Assert.Contains(world.LocalPublicKey, world.Vms[0].ReadAuthorizedKeys(), StringComparison.Ordinal);
        Assert.Equal(2, await world.RunCommandCountAsync());
    }

    [Fact]
    public async Task A_rotated_local_key_is_not_checked_early_and_is_synced_before_the_login()
    {
        var (world, sshd, env, options) = await StartAsync();
        await using var _ = world;
        await using var __ = sshd;
        await WriteAuthorizedKeyAsync(world.Vms[0], world.LocalPublicKey);
        var first = await ConnectedAsync(world, sshd, env, ["connect", "vm00", "--", .. options, "true"]);
        var old = world.LocalPublicKey;

        var keyPath = Path.Combine(world.Home, ".ssh", "id_ed25519");
        File.Delete(keyPath);
        File.Delete(keyPath + ".pub");
        await CliWorld.RunToolAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "operator@rotated", "-f", keyPath);
        Assert.NotEqual(old, world.LocalPublicKey);

        var second = await ConnectedAsync(world, sshd, env, ["--verbose", "connect", "vm00", "--", .. options, "echo", "rotated-in"]);
        Assert.DoesNotContain("early key check over ssh", second.Stderr, StringComparison.Ordinal);
        Assert.Contains("rotated-in", second.Stdout, StringComparison.Ordinal);
        Assert.Contains(world.LocalPublicKey, world.Vms[0].ReadAuthorizedKeys(), StringComparison.Ordinal);
        Assert.Equal(world.LocalPublicKey, (string?)(await CachedAsync(world))["keyLine"]);
    }

    [Fact]
    public async Task A_stale_cached_NIC_is_not_used_and_the_addresses_come_from_the_VMs_own_NIC()
    {
        var (world, sshd, env, options) = await StartAsync();
        await using var _ = world;
        await using var __ = sshd;
        await WriteAuthorizedKeyAsync(world.Vms[0], world.LocalPublicKey);
        var first = await ConnectedAsync(world, sshd, env, ["connect", "vm00", "--", .. options, "true"]);
        var realNic = (string?)(await CachedAsync(world))["networkInterfaceId"];
        Assert.NotNull(realNic);

        // unchanged: the NIC request starts with the VM's, and there is exactly one
        var second = await ConnectedAsync(world, sshd, env, ["--verbose", "connect", "vm00", "--", .. options, "true"]);
        Assert.Single(second.Stderr.Split('\n'), l => l.Contains("/networkInterfaces/", StringComparison.Ordinal));

        // the VM got another NIC since: the cached one's answer (here a 404) is not used, the VM's own NIC is asked
        var staleNic = realNic![..(realNic.LastIndexOf('/') + 1)] + "replaced-nic";
        await EditCacheAsync(world, e => e["networkInterfaceId"] = staleNic);
        var third = await ConnectedAsync(world, sshd, env, ["--verbose", "connect", "vm00", "--", .. options, "echo", "via-own-nic"]);
        Assert.Contains("another NIC than the cached one", third.Stderr, StringComparison.Ordinal);
        Assert.Contains("via-own-nic", third.Stdout, StringComparison.Ordinal);
        Assert.Equal(realNic, (string?)(await CachedAsync(world))["networkInterfaceId"]);
    }
}
