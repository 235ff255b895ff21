using BenchmarkDotNet.Attributes;
using Latch.Core.Keys;

namespace Latch.Bench;

/// <summary>Latch.Core's authorized_keys engine on a 100,000-line file, and fingerprints per key.</summary>
[MemoryDiagnoser]
public class KeysBenchmarks
{
    private const int Lines = 100_000;
    private byte[] _file = [];
    private SshPublicKey[] _newKeys = [];
    private byte[] _ed25519Blob = [];
    private byte[] _rsaBlob = [];

    [GlobalSetup]
    public void Setup()
    {
        _file = SyntheticAuthorizedKeys.Build(Lines);
        var random = new Random(2);
        _newKeys = [.. Enumerable.Range(0, 10).Select(i => SshPublicKey.Parse($"ssh-ed25519 {Convert.ToBase64String(SyntheticAuthorizedKeys.Ed25519(random))} new{i}"))];
        var document = AuthorizedKeysDocument.Parse(_file);
        _ed25519Blob = document.Keys.First(k => k.Type == "ssh-ed25519").Blob.ToArray();
        _rsaBlob = document.Keys.First(k => k.Type == "ssh-rsa").Blob.ToArray();
    }

    // ParseOwned is how latchd and latch parse: the bytes just read from the file are handed over, not copied.
    [Benchmark(Description = "parse + serialise, 100k lines")]
    [Goal(50_000_000, "<= 50 ms")]
    public byte[] ParseAndSerialise() => AuthorizedKeysDocument.ParseOwned(_file).ToBytes();

    [Benchmark(Description = "parse a copy + serialise, 100k lines")]
    public byte[] ParseCopyAndSerialise() => AuthorizedKeysDocument.Parse(_file).ToBytes();

    [Benchmark(Description = "parse + EnsurePresent(10) + serialise, 100k lines")]
    [Goal(50_000_000, "<= 50 ms")]
    public byte[] ParseEnsurePresentSerialise()
    {
        var document = AuthorizedKeysDocument.ParseOwned(_file);
        document.EnsurePresent(_newKeys);
        return document.ToBytes();
    }

    [Benchmark(Description = "SHA256 fingerprint, ed25519 key")]
    [Goal(2_000, "<= 2 us")]
    public string Sha256Ed25519() => Fingerprint.Sha256(_ed25519Blob);

    [Benchmark(Description = "MD5 fingerprint, ed25519 key")]
    [Goal(2_000, "<= 2 us")]
    public string Md5Ed25519() => Fingerprint.Md5(_ed25519Blob);

    [Benchmark(Description = "SHA256 fingerprint, RSA-3072 key")]
    [Goal(5_000, "<= 5 us")]
    public string Sha256Rsa() => Fingerprint.Sha256(_rsaBlob);
}
