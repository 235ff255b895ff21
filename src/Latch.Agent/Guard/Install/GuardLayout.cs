namespace Latch.Agent.Guard.Install;

/// <summary>Where the key guard puts and finds things on the VM. Defaults are the real paths; tests point them elsewhere.</summary>
internal sealed record GuardLayout
{
    public string Binary { get; init; } = "/usr/sbin/latchd";
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
    public string CommandLine => StoreDir == KeyStore.KeyStoreFiles.DefaultDirectory
        ? $"{Binary} authorized-keys %u %f %t %k"
        : $"{Binary} authorized-keys --store {StoreDir} %u %f %t %k";

    public string DropInText =>
        "# Written by 'latchd guard install'; 'latchd guard uninstall' removes it.\n" +
        "# sshd asks latchd for the user's Latch-managed keys after the user's own authorized_keys had no match.\n" +
        $"AuthorizedKeysCommand {CommandLine}\n" +
        $"AuthorizedKeysCommandUser {AkcUser}\n";
}
