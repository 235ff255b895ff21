namespace Latch.Agent.Guard.Install;

/// <summary>Where the key guard puts and finds things on the VM. Defaults are the real paths; tests point them elsewhere.</summary>
internal sealed record GuardLayout
{
    /// <summary>
    /// The AuthorizedKeysCommand sshd runs: the small latch-akc binary (same code as <c>latchd authorized-keys</c>,
    /// about half the start-up time; see bench/run.sh guard). A path ending in <c>latchd</c> works too.
    /// </summary>
    public string Binary { get; init; } = "/usr/sbin/latch-akc";
    public string SshdConfig { get; init; } = "/etc/ssh/sshd_config";
    public string SshdConfigDir { get; init; } = "/etc/ssh/sshd_config.d";
    public string DropInName { get; init; } = "40-latch-akc.conf";
    public string AkcUser { get; init; } = "latch-akc";
    public string StoreDir { get; init; } = KeyStore.KeyStoreFiles.DefaultDirectory;
    public string BackupDir { get; init; } = "/var/lib/latch/backup";
    public string CloudConfig { get; init; } = "/etc/cloud/cloud.cfg";
    public string CloudConfigDir { get; init; } = "/etc/cloud/cloud.cfg.d";
    public string CloudDropInName { get; init; } = "99-latch.cfg";
    public string WaagentConf { get; init; } = "/etc/waagent.conf";
    public string WaagentLib { get; init; } = "/var/lib/waagent";
    public string Sshd { get; init; } = "/usr/sbin/sshd";
    public string SshdPidFile { get; init; } = "/run/sshd.pid";

    public string DropInPath => SshdConfigDir + "/" + DropInName;

    public string CloudDropInPath => CloudConfigDir + "/" + CloudDropInName;

    /// <summary>The AuthorizedKeysCommand line: the absolute binary and sshd's tokens (user, fingerprint, type, key).</summary>
    public string CommandLine =>
        Binary + (Path.GetFileName(Binary) == "latchd" ? " authorized-keys" : "")
        + (StoreDir == KeyStore.KeyStoreFiles.DefaultDirectory ? "" : $" --store {StoreDir}") + " %u %f %t %k";

    public string DropInText =>
        "# Written by 'latchd guard install'; 'latchd guard uninstall' removes it.\n" +
        "# sshd asks latchd for the user's Latch-managed keys after the user's own authorized_keys had no match.\n" +
        $"AuthorizedKeysCommand {CommandLine}\n" +
        $"AuthorizedKeysCommandUser {AkcUser}\n";
}
