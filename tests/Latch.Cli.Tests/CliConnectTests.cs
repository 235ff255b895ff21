using System.Net.Http.Json;
using System.Text.Json;
using Latch.Cli.Tests.Infrastructure;

namespace Latch.Cli.Tests;

/// <summary>
/// <c>latch connect</c> end to end: the real latch process syncs through the emulator (run-command scripts run for
/// real) or through a BatchMode ssh, then execs the real ssh client, which logs in to a real sshd on 127.0.0.1.
/// </summary>
public sealed class CliConnectTests
{
    private static readonly string[] s_sshOptions = ["-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"];

    private static async Task<(CliWorld World, LocalSshd Sshd, Dictionary<string, string?> Env)> StartAsync()
    {
        Requires.Tool("ssh", "openssh-client");
        var world = await CliWorld.StartAsync(1, withVault: false, user: "root");
        var vm = world.Vms[0];
        var sshd = await LocalSshd.StartAsync(world.Root, vm.PasswdPath);
        var config = Path.Combine(world.Root, "config.toml");
        await File.WriteAllTextAsync(config, $"[ssh]\nport = {sshd.Port}\nuser = \"root\"\nconnect_timeout = 20\n", TestContext.Current.CancellationToken);
        return (world, sshd, new Dictionary<string, string?> { ["LATCH_CONFIG"] = config });
    }

    /// <summary>Puts <paramref name="publicKey"/> in the VM's authorized_keys as its only line, with the modes sshd wants.</summary>
    private static async Task WriteAuthorizedKeyAsync(EmulatedVm vm, string publicKey)
    {
        var sshDirectory = Path.GetDirectoryName(vm.AuthorizedKeys)!;
        Directory.CreateDirectory(sshDirectory);
        await File.WriteAllTextAsync(vm.AuthorizedKeys, publicKey + "\n", TestContext.Current.CancellationToken);
        // sshd's StrictModes ignores a file or directory others can write: set the modes rather than trust the umask
        File.SetUnixFileMode(sshDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.SetUnixFileMode(vm.AuthorizedKeys, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    private static string[] Connect(string method, params string[] remote) => ["connect", "vm00", "--sync-method", method, "--", .. s_sshOptions, .. remote];

    /// <summary>Two connects found the key already there, both checked over ssh: the audit log says so, once each.</summary>
    internal static void AssertTwoSshRecordsOfAPresentKey(CliWorld world)
    {
        var records = world.AuditRecords();
        Assert.Equal(2, records.Count);
        Assert.All(records, r => Assert.True(r.GetProperty("already_present").GetBoolean()));
        Assert.All(records, r => Assert.Equal("ssh", r.GetProperty("method").GetString()));
    }

    [Fact]
    public async Task Connect_by_run_command_appends_the_missing_key_and_ssh_logs_in_with_its_exit_code()
    {
        var (world, sshd, env) = await StartAsync();
        await using var _ = world;
        await using var __ = sshd;
        Assert.False(File.Exists(world.Vms[0].AuthorizedKeys));

        var result = await world.LatchAsync(env, Connect("run-command", "echo", "logged-in-as", "$(id -un)"));
        Assert.True(result.ExitCode == 0, result + "\n--- sshd\n" + sshd.Log);
        Assert.Contains("logged-in-as root", result.Stdout, StringComparison.Ordinal);
        Assert.Equal(world.LocalPublicKey + "\n", world.Vms[0].ReadAuthorizedKeys());

        var exitCode = await world.LatchAsync(env, Connect("run-command", "exit", "7"));
        Assert.Equal(7, exitCode.ExitCode);
    }

    [Fact]
    public async Task Connect_with_the_key_already_present_writes_nothing_by_ssh_and_by_auto()
    {
        var (world, sshd, env) = await StartAsync();
        await using var _ = world;
        await using var __ = sshd;
        var vm = world.Vms[0];
        await WriteAuthorizedKeyAsync(vm, world.LocalPublicKey);
        var before = File.GetLastWriteTimeUtc(vm.AuthorizedKeys);

        foreach (var method in (string[])["ssh", "auto"])
        {
            var result = await world.LatchAsync(env, Connect(method, "true"));
            Assert.True(result.ExitCode == 0, result + "\n--- sshd\n" + sshd.Log);
        }

        Assert.Equal(world.LocalPublicKey + "\n", vm.ReadAuthorizedKeys());
        Assert.Equal(before, File.GetLastWriteTimeUtc(vm.AuthorizedKeys));
        Assert.Equal(0, await world.RunCommandCountAsync());
        AssertTwoSshRecordsOfAPresentKey(world);
    }

    [Fact]
    public async Task Connect_by_auto_checks_the_key_by_logging_in_once_and_the_session_reuses_that_login()
    {
        var (world, sshd, env) = await StartAsync();
        await using var _ = world;
        await using var __ = sshd;
        await WriteAuthorizedKeyAsync(world.Vms[0], world.LocalPublicKey);

        var result = await world.LatchAsync(env, ["--verbose", .. Connect("auto", "echo", "session-over-the-check")]);
        Assert.True(result.ExitCode == 0, result + "\n--- sshd\n" + sshd.Log);
        Assert.Contains("session-over-the-check", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("present on vm00 via ssh", result.Stderr, StringComparison.Ordinal);
        // the check script and the user's command ran in one SSH connection: sshd accepted the key once
        var logins = sshd.Log.Split('\n').Count(l => l.Contains("Accepted publickey", StringComparison.Ordinal));
        Assert.True(logins == 1, $"{logins} logins\n{result}\n--- sshd\n{sshd.Log}");
    }

    [Fact]
    public async Task After_a_hostile_agent_overwrites_authorized_keys_the_next_connect_resyncs_and_logs_in()
    {
        var (world, sshd, env) = await StartAsync();
        await using var _ = world;
        await using var __ = sshd;
        var first = await world.LatchAsync(env, Connect("auto", "true"));
        Assert.True(first.ExitCode == 0, first + "\n--- sshd\n" + sshd.Log);
        Assert.Contains(world.LocalPublicKey, world.Vms[0].ReadAuthorizedKeys(), StringComparison.Ordinal);
        Assert.Equal(1, await world.RunCommandCountAsync()); // no key worked yet: ssh was refused, run-command synced

        var stranger = TestKeys.Ed25519("provisioning-agent");
        using (var http = new HttpClient())
        {
            using var started = await http.PostAsJsonAsync(new Uri(world.Host.Control, "/vms/vm00/hostile-agent"), new { intervalMs = 10, key = stranger, maxRewrites = 1 }, TestContext.Current.CancellationToken);
            Assert.True(started.IsSuccessStatusCode, await started.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
            for (var i = 0; i < 200 && world.Vms[0].ReadAuthorizedKeys().Contains(world.LocalPublicKey, StringComparison.Ordinal); i++)
            {
                await Task.Delay(50, TestContext.Current.CancellationToken);
            }
        }

        Assert.DoesNotContain(world.LocalPublicKey, world.Vms[0].ReadAuthorizedKeys(), StringComparison.Ordinal);
        var second = await world.LatchAsync(env, Connect("auto", "echo", "back-in"));
        Assert.True(second.ExitCode == 0, second + "\n--- sshd\n" + sshd.Log);
        Assert.Contains("back-in", second.Stdout, StringComparison.Ordinal);
        Assert.Contains(world.LocalPublicKey, world.Vms[0].ReadAuthorizedKeys(), StringComparison.Ordinal);
        Assert.Equal(2, await world.RunCommandCountAsync());
    }

    [Fact]
    public async Task A_failed_sync_warns_with_advice_and_still_connects()
    {
        var (world, sshd, env) = await StartAsync();
        await using var _ = world;
        await using var __ = sshd;
        var vm = world.Vms[0];
        await WriteAuthorizedKeyAsync(vm, world.LocalPublicKey);
        await world.AddFaultAsync("arm", "status=403", world.VmPath("vm00") + "/runCommand", 100);

        var result = await world.LatchAsync(env, Connect("run-command", "true"));
        Assert.True(result.ExitCode == 0, result + "\n--- sshd\n" + sshd.Log);
        Assert.Contains("Virtual Machine Contributor", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("connecting anyway", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_gives_up_with_exit_8_when_ssh_never_answers()
    {
        var (world, sshd, env) = await StartAsync();
        await using var _ = world;
        await sshd.DisposeAsync();
        var result = await world.LatchAsync(env, ["connect", "vm00", "--sync-method", "skip", "--connect-timeout", "2", "--", .. s_sshOptions, "true"]);
        Assert.Equal(ExitCodes.SshUnreachable, result.ExitCode);
        Assert.Contains("waiting for SSH", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("connection refused", result.Stderr, StringComparison.Ordinal);
    }
}
