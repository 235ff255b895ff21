using Latch.Agent.KeyStore;
using Latch.Agent.Os;
using Latch.Agent.Provisioning;
using Microsoft.Extensions.Logging.Abstractions;

namespace Latch.Agent.Tests;

/// <summary>Provisioning's keys in the key guard's store (real files under a root-owned /run tree).</summary>
public sealed class ProvisionedKeysTests
{
    private static readonly DateTimeOffset Now = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static (ProvisionedKeys Keys, KeyStoreFiles Store) Open(TestDirectory dir) =>
        (new ProvisionedKeys(new HostSystem(dir.Path, NullLogger.Instance), "/var/lib/latch/keys"), new KeyStoreFiles(dir.Combine("var/lib/latch/keys")));

    [Fact]
    public void Provisioned_keys_join_the_store_next_to_other_sources_without_duplicates()
    {
        using var dir = new TestDirectory();
        var (provisioned, store) = Open(dir);
        var vault = ManagedKey.Create(GeneratedKeys.Public("pk-vault"), "keyvault:latch-vm1-key", null, Now.AddDays(1));
        store.Write(new KeyStoreDocument("azureuser", [vault], []), Ct);

        var added = provisioned.Record("azureuser", [GeneratedKeys.Public("pk-admin"), GeneratedKeys.Public("pk-vault"), GeneratedKeys.Public("pk-admin")], Ct);

        Assert.Equal(1, added);
        var document = store.Read("azureuser").Document!;
        Assert.Equal(["keyvault:latch-vm1-key", "provisioning"], document.Keys.Select(k => k.Source));
        Assert.Equal(GeneratedKeys.Public("pk-admin").Identity, document.Keys[1].Key.Identity);
        Assert.Null(document.Keys[1].ExpiresOn);
        Assert.Equal((UnixFileMode)0b110_100_100, File.GetUnixFileMode(store.PathOf("azureuser")));
    }

    [Fact]
    public void Recording_the_same_keys_again_does_not_rewrite_the_store()
    {
        using var dir = new TestDirectory();
        var (provisioned, store) = Open(dir);
        provisioned.Record("azureuser", [GeneratedKeys.Public("pk-admin")], Ct);
        var inode = new FileInfo(store.PathOf("azureuser")).LastWriteTimeUtc;
        var before = File.ReadAllBytes(store.PathOf("azureuser"));
        Thread.Sleep(20);

        Assert.Equal(0, provisioned.Record("azureuser", [GeneratedKeys.Public("pk-admin")], Ct));

        Assert.Equal(before, File.ReadAllBytes(store.PathOf("azureuser")));
        Assert.Equal(inode, new FileInfo(store.PathOf("azureuser")).LastWriteTimeUtc);
    }

    [Fact]
    public void A_new_instance_takes_its_keys_off_the_retired_list_and_stops_managing_the_old_instances_keys_without_retiring_them()
    {
        using var dir = new TestDirectory();
        var (provisioned, store) = Open(dir);
        provisioned.Record("azureuser", [GeneratedKeys.Public("pk-old")], Ct);
        store.Write(store.Read("azureuser").Document! with { Retired = [new RetiredKey(GeneratedKeys.Public("pk-admin"), "local", Now)] }, Ct);

        provisioned.Record("azureuser", [GeneratedKeys.Public("pk-admin")], Ct);

        var document = store.Read("azureuser").Document!;
        Assert.Equal(GeneratedKeys.Public("pk-admin").Identity, Assert.Single(document.Keys).Key.Identity);
        Assert.Empty(document.Retired);
    }

    [Fact]
    public void A_corrupt_store_file_fails_the_keys_step_and_is_left_as_it_was()
    {
        using var dir = new TestDirectory();
        var (provisioned, store) = Open(dir);
        dir.RootDirectory("var/lib/latch/keys");
        File.WriteAllText(store.PathOf("azureuser"), "# latch key store v1 (written by latchd; edit with 'latchd keys', not by hand)\nuser\tazureuser\n");

        var failure = Assert.Throws<ProvisioningException>(() => provisioned.Record("azureuser", [GeneratedKeys.Public("pk-admin")], Ct));

        Assert.Equal(("keys", "KeyStoreCorrupt"), (failure.Step, failure.Code));
        Assert.Contains("Move it aside", failure.Message, StringComparison.Ordinal);
        Assert.EndsWith("user\tazureuser\n", File.ReadAllText(store.PathOf("azureuser")), StringComparison.Ordinal);
    }

    [Fact]
    public void Forgetting_removes_only_provisioning_keys_and_deletes_a_file_left_empty()
    {
        using var dir = new TestDirectory();
        var (provisioned, store) = Open(dir);
        var vault = ManagedKey.Create(GeneratedKeys.Public("pk-vault"), "keyvault:latch-vm1-key", null, null);
        store.Write(new KeyStoreDocument("alice", [vault], []), Ct);
        provisioned.Record("alice", [GeneratedKeys.Public("pk-admin")], Ct);
        provisioned.Record("azureuser", [GeneratedKeys.Public("pk-admin")], Ct);

        var changed = provisioned.Forget(Ct);

        Assert.Equal(["/var/lib/latch/keys/alice", "/var/lib/latch/keys/azureuser"], changed);
        Assert.Equal(["keyvault:latch-vm1-key"], store.Read("alice").Document!.Keys.Select(k => k.Source));
        Assert.False(File.Exists(store.PathOf("azureuser")));
        Assert.Empty(provisioned.Holding());
    }

    [Fact]
    public void Keys_an_earlier_latchd_kept_in_managed_keys_move_into_the_store()
    {
        using var dir = new TestDirectory();
        var (provisioned, store) = Open(dir);
        var legacy = dir.RootDirectory("var/lib/latch/managed-keys");
        File.WriteAllText(legacy + "/azureuser", "# Keys latchd installed for this user at provisioning (the key guard keeps them). Do not edit.\n"
            + GeneratedKeys.Public("pk-admin").ToLine() + "\nnot a key\n");

        var migrated = provisioned.MigrateLegacy("/var/lib/latch", Ct);

        Assert.Equal(["azureuser"], migrated);
        var key = Assert.Single(store.Read("azureuser").Document!.Keys);
        Assert.Equal(("provisioning", GeneratedKeys.Public("pk-admin").Identity), (key.Source, key.Key.Identity));
        Assert.False(Directory.Exists(legacy));
    }
}
