namespace Latch.Rig;

/// <summary>An ed25519 key pair made by the real ssh-keygen (no passphrase) in a directory the caller owns.</summary>
internal sealed record SshKey(string PrivateKeyPath, string PublicKey)
{
    public static async Task<SshKey> CreateAsync(string directory, string name, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, name);
        await Command.CheckAsync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path], cancellationToken: cancellationToken);
        return new SshKey(path, (await File.ReadAllTextAsync(path + ".pub", cancellationToken)).Trim());
    }
}
