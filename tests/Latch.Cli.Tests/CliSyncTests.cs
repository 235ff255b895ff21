using System.Text.Json;
using Latch.Cli.Keys;
using Latch.Cli.Tests.Infrastructure;
using Latch.Core.Keys;

namespace Latch.Cli.Tests;

/// <summary>The latch binary as a real process against the in-process emulator, VMs' run-command executed for real.</summary>
public sealed class CliSyncTests
{
    private static string KeyOf(string line) => string.Join(' ', line.Split(' ').Take(2));

    [Fact]
    public async Task Keys_sync_appends_the_local_key_then_finds_it_present_and_audits_each_attempt()
    {
        await using var world = await CliWorld.StartAsync(1, withVault: false);
        var first = await world.LatchAsync("keys", "sync", "vm00", "--sync-method", "run-command");
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains("vm00\tappended\trun-command", first.Stdout, StringComparison.Ordinal);
        var second = await world.LatchAsync("keys", "sync", "vm00", "--sync-method", "run-command", "--json");
        Assert.True(second.ExitCode == 0, second.ToString());
        using var report = JsonDocument.Parse(second.Stdout);
        Assert.Equal("present", report.RootElement.GetProperty("vms")[0].GetProperty("state").GetString());

        Assert.Equal(world.LocalPublicKey + "\n", world.Vm("vm00").ReadAuthorizedKeys());
        var audit = File.ReadAllLines(world.AuditLog);
        Assert.Equal(2, audit.Length);
        using var record = JsonDocument.Parse(audit[0]);
        Assert.Equal("vm00", record.RootElement.GetProperty("vm_name").GetString());
        Assert.Equal("rg-even", record.RootElement.GetProperty("resource_group").GetString());
        Assert.True(record.RootElement.GetProperty("synced").GetBoolean());
        Assert.Equal("run-command", record.RootElement.GetProperty("method").GetString());
        Assert.Equal("azureuser", record.RootElement.GetProperty("user").GetString());
        Assert.True(record.RootElement.GetProperty("duration_ms").GetInt64() > 0);
        var auditText = File.ReadAllText(world.AuditLog);
        Assert.DoesNotContain(CliWorld.ClientSecret, auditText, StringComparison.Ordinal);
        Assert.DoesNotContain(KeyOf(world.LocalPublicKey).Split(' ')[1], auditText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Twenty_parallel_keys_sync_processes_leave_exactly_one_copy_in_a_well_formed_file()
    {
        await using var world = await CliWorld.StartAsync(1, withVault: false);
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ =>
            world.LatchAsync("keys", "sync", "vm00", "--sync-method", "run-command", "--sync-timeout", "600")));
        Assert.All(results, r => Assert.True(r.ExitCode == 0, r.ToString()));
        Assert.Equal(1, results.Count(r => r.Stdout.Contains("\tappended\t", StringComparison.Ordinal)));
        var content = File.ReadAllBytes(world.Vm("vm00").AuthorizedKeys);
        var document = AuthorizedKeysDocument.Parse(content);
        Assert.Single(document.Keys);
        Assert.DoesNotContain(document.Lines, l => l.Kind == LineKind.Malformed);
        Assert.Equal(20, File.ReadAllLines(world.AuditLog).Length);
    }

    [Fact]
    public async Task Dry_run_prints_the_actions_and_sends_no_run_command()
    {
        await using var world = await CliWorld.StartAsync(1, withVault: false);
        var sync = await world.LatchAsync("keys", "sync", "vm00", "--sync-method", "run-command", "--dry-run");
        Assert.True(sync.ExitCode == 0, sync.ToString());
        Assert.Contains("dry run: would ensure key", sync.Stderr, StringComparison.Ordinal);
        var connect = await world.LatchAsync("connect", "vm00", "--sync-method", "run-command", "--dry-run", "--", "-o", "BatchMode=yes", "true");
        Assert.True(connect.ExitCode == 0, connect.ToString());
        Assert.Contains("then exec: ssh", connect.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("connecting anyway", connect.Stderr, StringComparison.Ordinal);
        Assert.Contains("azureuser@127.0.0.1", connect.Stderr, StringComparison.Ordinal);

        Assert.Equal(0, await world.RunCommandCountAsync());
        Assert.False(File.Exists(world.Vm("vm00").AuthorizedKeys));
    }

    [Fact]
    public async Task Flags_beat_vm_tables_which_beat_the_ssh_table()
    {
        await using var world = await CliWorld.StartAsync(2, withVault: false);
        var config = Path.Combine(world.Root, "config.toml");
        await File.WriteAllTextAsync(config, "[ssh]\nsync_method = \"skip\"\n\n[vm.vm01]\nsync_method = \"run-command\"\n", TestContext.Current.CancellationToken);
        var env = new Dictionary<string, string?> { ["LATCH_CONFIG"] = config };

        var skipped = await world.LatchAsync(env, "keys", "sync", "vm00");
        Assert.True(skipped.ExitCode == 0, skipped.ToString());
        Assert.Contains("vm00\tmissing\tskip", skipped.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, await world.RunCommandCountAsync());

        var perVm = await world.LatchAsync(env, "keys", "sync", "vm01");
        Assert.Contains("vm01\tappended\trun-command", perVm.Stdout, StringComparison.Ordinal);
        Assert.Equal(1, await world.RunCommandCountAsync());

        var flag = await world.LatchAsync(env, "keys", "sync", "vm00", "--sync-method", "run-command");
        Assert.Contains("vm00\tappended\trun-command", flag.Stdout, StringComparison.Ordinal);

        var get = await world.LatchAsync(env, "config", "get", "vm.vm01.sync_method");
        Assert.Equal("run-command", get.Stdout.Trim());
        var bad = await world.LatchAsync(env, "config", "set", "ssh.sync_timeout", "soon");
        Assert.Equal(ExitCodes.Config, bad.ExitCode);
        Assert.Contains("whole number", bad.Stderr, StringComparison.Ordinal);

        await File.WriteAllTextAsync(config, "[ssh\nsync_method = 1\n", TestContext.Current.CancellationToken);
        var broken = await world.LatchAsync(env, "keys", "sync", "vm00");
        Assert.Equal(ExitCodes.Config, broken.ExitCode);
        Assert.Contains(config, broken.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_hostile_user_name_or_key_comment_is_refused_before_any_run_command()
    {
        await using var world = await CliWorld.StartAsync(1, withVault: false);
        var user = await world.LatchAsync("keys", "sync", "vm00", "--sync-method", "run-command", "--user", "x$(touch /tmp/latch-pwned)");
        Assert.Equal(ExitCodes.SyncFailed, user.ExitCode);
        Assert.Contains("is not allowed", user.Stdout, StringComparison.Ordinal);

        var hostile = Path.Combine(world.Root, "hostile");
        await File.WriteAllTextAsync(hostile + ".pub", TestKeys.Ed25519() + " `touch /tmp/latch-pwned`\n", TestContext.Current.CancellationToken);
        var key = await world.LatchAsync("keys", "sync", "vm00", "--sync-method", "run-command", "--identity-file", hostile);
        Assert.Equal(ExitCodes.SyncFailed, key.ExitCode);
        Assert.Contains("comment contains '`'", key.Stdout, StringComparison.Ordinal);

        Assert.Equal(0, await world.RunCommandCountAsync());
        Assert.False(File.Exists("/tmp/latch-pwned"));
    }

    [Fact]
    public async Task A_generated_key_lives_in_Key_Vault_drives_the_sync_and_its_private_half_is_never_printed()
    {
        await using var world = await CliWorld.StartAsync(1);
        var generated = await world.LatchAsync("keys", "generate", "vm00");
        Assert.True(generated.ExitCode == 0, generated.ToString());
        var publicLine = generated.Stdout.Split('\n').Single(l => l.StartsWith("ssh-ed25519 ", StringComparison.Ordinal));
        var privateKey = world.Secret("latch-vm00-key");
        Assert.NotNull(privateKey);
        Assert.Contains("OPENSSH PRIVATE KEY", privateKey, StringComparison.Ordinal);
        Assert.True(OpenSshPrivateKey.TryGetPublicKeyLine(privateKey, out var derived, out _));
        Assert.Equal(KeyOf(publicLine), derived);
        Assert.Equal(publicLine, world.Secret("latch-vm00-key-pub"));

        var again = await world.LatchAsync("keys", "generate", "vm00");
        Assert.Equal(ExitCodes.UsageOrIo, again.ExitCode);
        Assert.Contains("keys rotate", again.Stderr, StringComparison.Ordinal);

        var sync = await world.LatchAsync("keys", "sync", "vm00", "--sync-method", "run-command", "--verbose");
        Assert.True(sync.ExitCode == 0, sync.ToString());
        Assert.Contains(KeyOf(publicLine), world.Vm("vm00").ReadAuthorizedKeys(), StringComparison.Ordinal);
        Assert.DoesNotContain(KeyOf(world.LocalPublicKey), world.Vm("vm00").ReadAuthorizedKeys(), StringComparison.Ordinal);

        var secretBody = privateKey.Split('\n')[1];
        foreach (var text in (string[])[generated.Stdout, generated.Stderr, sync.Stdout, sync.Stderr, File.ReadAllText(world.AuditLog)])
        {
            Assert.DoesNotContain("PRIVATE KEY", text, StringComparison.Ordinal);
            Assert.DoesNotContain(secretBody, text, StringComparison.Ordinal);
            Assert.DoesNotContain(CliWorld.ClientSecret, text, StringComparison.Ordinal);
        }

        Assert.False(Directory.Exists(Path.Combine(world.Home, ".ssh", "latch-vm00")));
    }
}
