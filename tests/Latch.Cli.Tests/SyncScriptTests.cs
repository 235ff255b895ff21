using System.Diagnostics;
using Latch.Cli.Sync;
using Latch.Cli.Tests.Infrastructure;
using Latch.Core.Keys;

namespace Latch.Cli.Tests;

public sealed class SyncScriptTests
{
    private static string Script(SyncMode mode, string user, string key, string? keep = null)
    {
        Assert.True(SyncScript.TryCreate(mode, user, key, keep, 10, out var script, out var error), error);
        return script;
    }

    [Fact]
    public async Task Appends_a_missing_key_once_then_reports_it_present()
    {
        using var vm = ScriptVm.Create();
        var key = TestKeys.Ed25519("alice@laptop");
        var first = await vm.RunAsync(Script(SyncMode.Ensure, "azureuser", key));
        Assert.Equal(0, first.ExitCode);
        Assert.Contains("latch-sync: appended", first.Stdout, StringComparison.Ordinal);
        var second = await vm.RunAsync(Script(SyncMode.Ensure, "azureuser", key));
        Assert.Contains("latch-sync: present", second.Stdout, StringComparison.Ordinal);
        Assert.Equal(key + "\n", File.ReadAllText(vm.AuthorizedKeys));
    }

    [Fact]
    public async Task Creates_ssh_directory_owned_by_the_user_with_private_modes_and_leaves_no_lock_file()
    {
        using var vm = ScriptVm.Create(uid: 43001);
        var result = await vm.RunAsync(Script(SyncMode.Ensure, "azureuser", TestKeys.Ed25519()));
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(vm.SshDirectory));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(vm.AuthorizedKeys));
        Assert.Equal(vm.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture), (await CliWorld.RunToolAsync("stat", "-c", "%u", vm.AuthorizedKeys)).Trim());
        Assert.Equal(vm.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture), (await CliWorld.RunToolAsync("stat", "-c", "%u", vm.SshDirectory)).Trim());
        Assert.Equal(["authorized_keys"], Directory.GetFileSystemEntries(vm.SshDirectory).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Agent_mode_asks_latchd_even_before_the_user_has_an_ssh_directory_and_writes_nothing()
    {
        Assert.False(File.Exists("/usr/local/sbin/latchd") || File.Exists("/usr/sbin/latchd"), "this machine has latchd installed; the test needs a VM without it");
        using var vm = ScriptVm.Create(uid: 43006);
        var result = await vm.RunAsync(Script(SyncMode.Agent, "azureuser", TestKeys.Ed25519()));
        // no .ssh yet must not short-cut to "missing": the question goes to latchd, which is absent here
        Assert.Equal(SyncScript.Exit.NoAgent, result.ExitCode);
        Assert.Contains("latch-sync: error no-agent latchd is not installed", result.Stdout, StringComparison.Ordinal);
        Assert.False(Directory.Exists(vm.SshDirectory));
    }

    [Fact]
    public async Task Matches_by_type_and_blob_not_by_comment_or_options()
    {
        using var vm = ScriptVm.Create(uid: 43002);
        var key = TestKeys.Ed25519("old-comment");
        Directory.CreateDirectory(vm.SshDirectory);
        await File.WriteAllTextAsync(vm.AuthorizedKeys, "no-pty,from=\"169.254.0.0/16\" " + key + "\n", TestContext.Current.CancellationToken);
        await CliWorld.RunToolAsync("chown", "-R", $"{vm.Uid}:{vm.Uid}", vm.SshDirectory);
        var result = await vm.RunAsync(Script(SyncMode.Ensure, "azureuser", key[..key.LastIndexOf(' ')] + " new-comment"));
        Assert.Contains("latch-sync: present", result.Stdout, StringComparison.Ordinal);

        // same 40-character prefix, different key: azlin's prefix match would call this present
        var other = key[..52] + (key[52] == 'A' ? 'B' : 'A') + key[53..key.LastIndexOf(' ')];
        Assert.True(KeyValidator.TryValidate(other, KeyValidationOptions.Default, out _, out _));
        var appended = await vm.RunAsync(Script(SyncMode.Ensure, "azureuser", other));
        Assert.Contains("latch-sync: appended", appended.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Adds_a_newline_before_appending_to_a_file_without_one()
    {
        using var vm = ScriptVm.Create(uid: 43003);
        Directory.CreateDirectory(vm.SshDirectory);
        var existing = TestKeys.Ed25519("existing");
        await File.WriteAllTextAsync(vm.AuthorizedKeys, existing, TestContext.Current.CancellationToken);
        await CliWorld.RunToolAsync("chown", "-R", $"{vm.Uid}:{vm.Uid}", vm.SshDirectory);
        var key = TestKeys.Ed25519("new");
        await vm.RunAsync(Script(SyncMode.Ensure, "azureuser", key));
        Assert.Equal(existing + "\n" + key + "\n", File.ReadAllText(vm.AuthorizedKeys));
    }

    [Theory]
    [InlineData("664", "644")]
    [InlineData("606", "604")]
    [InlineData("644", "644")]
    [InlineData("600", "600")]
    public async Task Appending_takes_group_and_other_write_away_and_leaves_other_modes_alone(string before, string after)
    {
        using var vm = ScriptVm.Create(uid: 43009);
        Directory.CreateDirectory(vm.SshDirectory);
        await File.WriteAllTextAsync(vm.AuthorizedKeys, TestKeys.Ed25519("existing") + "\n", TestContext.Current.CancellationToken);
        await CliWorld.RunToolAsync("chown", "-R", $"{vm.Uid}:{vm.Uid}", vm.SshDirectory);
        await CliWorld.RunToolAsync("chmod", before, vm.AuthorizedKeys);
        var result = await vm.RunAsync(Script(SyncMode.Ensure, "azureuser", TestKeys.Ed25519("new")));
        Assert.Contains("latch-sync: appended", result.Stdout, StringComparison.Ordinal);
        Assert.Equal(after, (await CliWorld.RunToolAsync("stat", "-c", "%a", vm.AuthorizedKeys)).Trim());
    }

    [Theory]
    [InlineData("664", "775", "644", "755")]
    [InlineData("600", "707", "600", "705")]
    [InlineData("644", "700", "644", "700")]
    public async Task A_present_key_in_a_file_sshd_would_ignore_gets_group_and_other_write_taken_away(string fileBefore, string dirBefore, string fileAfter, string dirAfter)
    {
        using var vm = ScriptVm.Create(uid: 43011);
        var key = TestKeys.Ed25519("present");
        Directory.CreateDirectory(vm.SshDirectory);
        await File.WriteAllTextAsync(vm.AuthorizedKeys, key + "\n", TestContext.Current.CancellationToken);
        await CliWorld.RunToolAsync("chown", "-R", $"{vm.Uid}:{vm.Uid}", vm.SshDirectory);
        await CliWorld.RunToolAsync("chmod", fileBefore, vm.AuthorizedKeys);
        await CliWorld.RunToolAsync("chmod", dirBefore, vm.SshDirectory);

        var result = await vm.RunAsync(Script(SyncMode.Ensure, "azureuser", key));

        Assert.Contains("latch-sync: present", result.Stdout, StringComparison.Ordinal);
        Assert.Equal(fileAfter, (await CliWorld.RunToolAsync("stat", "-c", "%a", vm.AuthorizedKeys)).Trim());
        Assert.Equal(dirAfter, (await CliWorld.RunToolAsync("stat", "-c", "%a", vm.SshDirectory)).Trim());
        Assert.Equal(key + "\n", File.ReadAllText(vm.AuthorizedKeys));
    }

    [Fact]
    public async Task Refuses_a_symlinked_ssh_directory_and_a_symlinked_authorized_keys()
    {
        using var vm = ScriptVm.Create(uid: 43004);
        var target = Path.Combine(vm.Root, "elsewhere");
        Directory.CreateDirectory(target);
        File.CreateSymbolicLink(vm.SshDirectory, target);
        var viaDirectory = await vm.RunAsync(Script(SyncMode.Ensure, "azureuser", TestKeys.Ed25519()));
        Assert.Equal(SyncScript.Exit.Unsafe, viaDirectory.ExitCode);
        Assert.Contains("symbolic link", viaDirectory.Stdout, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(target));

        File.Delete(vm.SshDirectory);
        Directory.CreateDirectory(vm.SshDirectory);
        var victim = Path.Combine(vm.Root, "victim");
        await File.WriteAllTextAsync(victim, "precious\n", TestContext.Current.CancellationToken);
        File.CreateSymbolicLink(vm.AuthorizedKeys, victim);
        await CliWorld.RunToolAsync("chown", "-h", "-R", $"{vm.Uid}:{vm.Uid}", vm.SshDirectory);
        var viaFile = await vm.RunAsync(Script(SyncMode.Ensure, "azureuser", TestKeys.Ed25519()));
        Assert.Equal(SyncScript.Exit.Unsafe, viaFile.ExitCode);
        Assert.Equal("precious\n", File.ReadAllText(victim));
    }

    [Fact]
    public async Task Refuses_an_ssh_directory_owned_by_someone_else()
    {
        using var vm = ScriptVm.Create(uid: 43005);
        Directory.CreateDirectory(vm.SshDirectory);
        CliWorld.Chown(vm.SshDirectory, 43999);
        var result = await vm.RunAsync(Script(SyncMode.Ensure, "azureuser", TestKeys.Ed25519()));
        Assert.Equal(SyncScript.Exit.Unsafe, result.ExitCode);
        Assert.Contains("owned by uid 43999", result.Stdout, StringComparison.Ordinal);
        Assert.False(File.Exists(vm.AuthorizedKeys));
    }

    [Fact]
    public async Task Refuses_an_authorized_keys_file_owned_by_someone_else_or_with_a_second_hard_link()
    {
        using var vm = ScriptVm.Create(uid: 43009);
        Directory.CreateDirectory(vm.SshDirectory);
        CliWorld.Chown(vm.SshDirectory, vm.Uid);
        await File.WriteAllTextAsync(vm.AuthorizedKeys, "", TestContext.Current.CancellationToken);
        CliWorld.Chown(vm.AuthorizedKeys, 43999);
        var foreign = await vm.RunAsync(Script(SyncMode.Ensure, "azureuser", TestKeys.Ed25519()));
        Assert.Equal(SyncScript.Exit.Unsafe, foreign.ExitCode);
        Assert.Contains("owned by uid 43999", foreign.Stdout, StringComparison.Ordinal);

        CliWorld.Chown(vm.AuthorizedKeys, vm.Uid);
        await CliWorld.RunToolAsync("ln", "--", vm.AuthorizedKeys, Path.Combine(vm.Root, "second-name"));
        var linked = await vm.RunAsync(Script(SyncMode.Ensure, "azureuser", TestKeys.Ed25519()));
        Assert.Equal(SyncScript.Exit.Unsafe, linked.ExitCode);
        Assert.Contains("more than one hard link", linked.Stdout, StringComparison.Ordinal);
        Assert.Equal("", File.ReadAllText(vm.AuthorizedKeys));
    }

    [Fact]
    public async Task Reports_a_user_that_does_not_exist()
    {
        using var vm = ScriptVm.Create(uid: 43006);
        var result = await vm.RunAsync(Script(SyncMode.Ensure, "nobody_here", TestKeys.Ed25519()));
        Assert.Equal(SyncScript.Exit.NoUser, result.ExitCode);
        var outcome = SyncOutcome.Parse(result.Stdout, result.ExitCode, result.Stderr);
        Assert.Equal("no-user", outcome.ErrorKind);
    }

    [Fact]
    public async Task Removes_the_old_key_only_while_the_new_one_is_present()
    {
        using var vm = ScriptVm.Create(uid: 43007);
        var old = TestKeys.Ed25519("old");
        var next = TestKeys.Ed25519("new");
        var other = TestKeys.Ed25519("someone-else");
        await vm.RunAsync(Script(SyncMode.Ensure, "azureuser", old));
        await vm.RunAsync(Script(SyncMode.Ensure, "azureuser", other));

        var refused = await vm.RunAsync(Script(SyncMode.Remove, "azureuser", old, keep: next));
        Assert.Equal(SyncScript.Exit.KeepMissing, refused.ExitCode);
        Assert.Contains(old, File.ReadAllText(vm.AuthorizedKeys), StringComparison.Ordinal);

        await vm.RunAsync(Script(SyncMode.Ensure, "azureuser", next));
        var removed = await vm.RunAsync(Script(SyncMode.Remove, "azureuser", old, keep: next));
        Assert.Contains("latch-sync: removed", removed.Stdout, StringComparison.Ordinal);
        Assert.Equal(other + "\n" + next + "\n", File.ReadAllText(vm.AuthorizedKeys));
        Assert.Equal(["authorized_keys"], Directory.GetFileSystemEntries(vm.SshDirectory).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Twenty_concurrent_scripts_leave_exactly_one_copy_and_a_well_formed_file()
    {
        using var vm = ScriptVm.Create(uid: 43008);
        var existing = Enumerable.Range(0, 5).Select(i => TestKeys.Ed25519($"existing-{i}")).ToList();
        foreach (var line in existing)
        {
            await vm.RunAsync(Script(SyncMode.Ensure, "azureuser", line));
        }

        var key = TestKeys.Ed25519("contended");
        var script = Script(SyncMode.Ensure, "azureuser", key);
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => vm.RunAsync(script)));
        Assert.All(results, r => Assert.Equal(0, r.ExitCode));
        Assert.Equal(1, results.Count(r => r.Stdout.Contains("latch-sync: appended", StringComparison.Ordinal)));
        var text = File.ReadAllText(vm.AuthorizedKeys);
        Assert.Equal(1, text.Split('\n').Count(l => l == key));
        var document = AuthorizedKeysDocument.Parse(File.ReadAllBytes(vm.AuthorizedKeys));
        Assert.Equal(6, document.Keys.Count());
        Assert.DoesNotContain(document.Lines, l => l.Kind == LineKind.Malformed);
    }

    [Fact]
    public async Task Check_mode_run_as_the_user_reads_without_the_lock_and_still_refuses_links_and_foreign_owners()
    {
        using var vm = ScriptVm.Create(uid: 43010);
        var key = TestKeys.Ed25519("checked");
        Assert.Contains("latch-sync: missing", (await vm.RunAsync(Script(SyncMode.Check, "azureuser", key), asUser: true)).Stdout, StringComparison.Ordinal);
        await vm.RunAsync(Script(SyncMode.Ensure, "azureuser", key));

        // another writer holds the .ssh lock for longer than the script's lock timeout: reading does not wait for it
        using var holder = Process.Start(new ProcessStartInfo("flock", ["-x", vm.SshDirectory, "sleep", "30"]) { UseShellExecute = false })!;
        try
        {
            var held = false;
            for (var i = 0; i < 100 && !held; i++)
            {
                held = (await CliWorld.RunToolAsync("sh", "-c", $"flock -n '{vm.SshDirectory}' true && echo free || echo held")).Contains("held", StringComparison.Ordinal);
                await Task.Delay(held ? 0 : 50, TestContext.Current.CancellationToken);
            }

            Assert.True(held, "the test's flock on .ssh was not taken");

            var present = await vm.RunAsync(Script(SyncMode.Check, "azureuser", key), asUser: true);
            Assert.True(present.ExitCode == 0, present.Stdout + present.Stderr);
            Assert.Contains("latch-sync: present", present.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            holder.Kill();
            await holder.WaitForExitAsync(TestContext.Current.CancellationToken);
        }

        CliWorld.Chown(vm.AuthorizedKeys, 43999);
        var foreign = await vm.RunAsync(Script(SyncMode.Check, "azureuser", key), asUser: true);
        Assert.Equal(SyncScript.Exit.Unsafe, foreign.ExitCode);
        Assert.Contains("is not owned by 'azureuser'", foreign.Stdout, StringComparison.Ordinal);

        CliWorld.Chown(vm.AuthorizedKeys, vm.Uid);
        var elsewhere = Path.Combine(vm.Root, "elsewhere");
        File.Move(vm.AuthorizedKeys, elsewhere);
        File.CreateSymbolicLink(vm.AuthorizedKeys, elsewhere);
        var linked = await vm.RunAsync(Script(SyncMode.Check, "azureuser", key), asUser: true);
        Assert.Equal(SyncScript.Exit.Unsafe, linked.ExitCode);
        Assert.Contains("symbolic link", linked.Stdout, StringComparison.Ordinal);
    }
}
