using Latch.Testing;

namespace Latch.Core.Tests.Keys;

public sealed class OpenSshConformanceTests(OpenSshKeyFiles keyFiles) : IClassFixture<OpenSshKeyFiles>
{
    private static string Keygen() => Requires.Tool("ssh-keygen", "openssh-client");

    private static string KeygenFingerprint(string keygen, string file, string hash)
    {
        var (exitCode, output) = OpenSshKeyFiles.Run(keygen, "-l", "-E", hash, "-f", file);
        Assert.True(exitCode == 0, $"ssh-keygen -l -E {hash} -f {file} failed: {output}");
        return output.Split(' ')[1];
    }

    [Fact]
    public void Fingerprints_equal_ssh_keygen_for_every_key_type_and_certificate()
    {
        var keygen = Keygen();
        var files = keyFiles.Files(keygen);
        var typesSeen = new HashSet<string>();
        foreach (var file in files)
        {
            var line = File.ReadAllText(file).TrimEnd('\n');
            var key = SshPublicKey.Parse(line);
            typesSeen.Add(key.Type);

            Assert.Equal(KeygenFingerprint(keygen, file, "sha256"), key.Sha256Fingerprint);
            Assert.Equal(KeygenFingerprint(keygen, file, "md5"), key.Md5Fingerprint);
        }

        Assert.Equal(
            [
                "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256-cert-v01@openssh.com", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384-cert-v01@openssh.com",
                "ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521-cert-v01@openssh.com", "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
                "sk-ecdsa-sha2-nistp256@openssh.com", "sk-ssh-ed25519-cert-v01@openssh.com", "sk-ssh-ed25519@openssh.com",
                "ssh-ed25519", "ssh-ed25519-cert-v01@openssh.com", "ssh-rsa", "ssh-rsa-cert-v01@openssh.com",
            ],
            typesSeen.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Key_sizes_equal_what_ssh_keygen_reports()
    {
        var keygen = Keygen();
        foreach (var file in keyFiles.Files(keygen))
        {
            var (_, output) = OpenSshKeyFiles.Run(keygen, "-l", "-f", file);
            var key = SshPublicKey.Parse(File.ReadAllText(file).TrimEnd('\n'));
            Assert.Equal(output.Split(' ')[0], key.Bits.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.EndsWith($"({key.DisplayType})", output.TrimEnd(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Every_line_of_an_authorized_keys_file_we_accept_is_accepted_by_ssh_keygen()
    {
        var keygen = Keygen();
        var options = new[] { null, "restrict", "no-pty,command=\"echo \\\"a, b\\\"\"", "from=\"10.0.0.0/8\",expiry-time=\"20991231\"", "cert-authority,principals=\"alice\"" };
        var index = 0;
        foreach (var file in keyFiles.Files(keygen))
        {
            var key = SshPublicKey.Parse(File.ReadAllText(file).TrimEnd('\n'));
            var line = TestKeys.Line(key.Blob.ToArray(), "comment with spaces", options[index++ % options.Length]);
            var document = AuthorizedKeysDocument.Parse(TestKeys.Bytes(line + "\n"));
            Assert.Equal(LineKind.Key, document.Lines[0].Kind);

            var path = Path.Combine(keyFiles.DirectoryPath, $"accepted-{index}");
            File.WriteAllText(path, line + "\n");
            var (exitCode, output) = OpenSshKeyFiles.Run(keygen, "-l", "-f", path);
            Assert.True(exitCode == 0, $"ssh-keygen rejected a line we accept: {line}\n{output}");
            Assert.Contains(key.Sha256Fingerprint, output, StringComparison.Ordinal);
        }
    }

    public static TheoryData<string> BlobDefects() =>
    [
        "truncated", "trailing garbage", "type mismatch", "short ed25519 key", "wrong curve", "short ecdsa point",
        "compressed ecdsa point", "negative rsa modulus", "cert type 3", "cert missing signature",
    ];

    [Theory]
    [MemberData(nameof(BlobDefects))]
    public void A_line_we_reject_for_a_blob_reason_is_rejected_by_ssh_keygen(string defect)
    {
        var keygen = Keygen();
        var files = keyFiles.Files(keygen);
        var ed25519 = SshPublicKey.Parse(File.ReadAllText(files.Single(f => f.EndsWith("/ed25519.pub", StringComparison.Ordinal))).TrimEnd('\n')).Blob.ToArray();
        var certificate = SshPublicKey.Parse(File.ReadAllText(files.Single(f => f.EndsWith("/ed25519-cert.pub", StringComparison.Ordinal))).TrimEnd('\n')).Blob.ToArray();
        var point = TestKeys.EcdsaPoint(256);
        (string type, byte[] blob) = defect switch
        {
            "truncated" => ("ssh-ed25519", ed25519[..^5]),
            "trailing garbage" => ("ssh-ed25519", [.. ed25519, 0, 0, 0, 1, 0]),
            "type mismatch" => ("ssh-rsa", ed25519),
            "short ed25519 key" => ("ssh-ed25519", TestKeys.Concat(TestKeys.String("ssh-ed25519"), TestKeys.String(ed25519[^31..]))),
            "wrong curve" => ("ecdsa-sha2-nistp256", TestKeys.Concat(TestKeys.String("ecdsa-sha2-nistp256"), TestKeys.String("nistp384"), TestKeys.String(point))),
            "short ecdsa point" => ("ecdsa-sha2-nistp256", TestKeys.Concat(TestKeys.String("ecdsa-sha2-nistp256"), TestKeys.String("nistp256"), TestKeys.String(point[..^1]))),
            "compressed ecdsa point" => ("ecdsa-sha2-nistp256", TestKeys.Concat(TestKeys.String("ecdsa-sha2-nistp256"), TestKeys.String("nistp256"), TestKeys.String([0x02, .. point[1..]]))),
            "negative rsa modulus" => ("ssh-rsa", TestKeys.Concat(TestKeys.String("ssh-rsa"), TestKeys.String([1, 0, 1]), TestKeys.String([0x80, .. new byte[255]]))),
            "cert type 3" => ("ssh-ed25519-cert-v01@openssh.com", WithCertType(certificate, 3)),
            "cert missing signature" => ("ssh-ed25519-cert-v01@openssh.com", certificate[..^(certificate.Length - SignatureOffset(certificate))]),
            _ => throw new ArgumentOutOfRangeException(nameof(defect)),
        };
        var line = $"{type} {Convert.ToBase64String(blob)} defect";

        Assert.False(SshPublicKey.TryParse(line, out _, out var error), $"we accepted the '{defect}' line");
        Assert.Equal(type.Length + 2, error.Column);

        var path = Path.Combine(keyFiles.DirectoryPath, "rejected-" + defect.Replace(' ', '-'));
        File.WriteAllText(path, line + "\n");
        var (exitCode, output) = OpenSshKeyFiles.Run(keygen, "-l", "-f", path);
        Assert.True(exitCode != 0, $"ssh-keygen accepted the '{defect}' line we reject ({error}): {output}");
    }

    // ed25519 certificate layout: type, nonce, key, serial (8), type (4), ...
    private static int CertTypeOffset(byte[] cert)
    {
        var at = 0;
        for (var i = 0; i < 3; i++)
        {
            at += 4 + System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(cert.AsSpan(at));
        }

        return at + 8;
    }

    private static byte[] WithCertType(byte[] cert, uint type)
    {
        var copy = (byte[])cert.Clone();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(copy.AsSpan(CertTypeOffset(cert)), type);
        return copy;
    }

    private static int SignatureOffset(byte[] cert)
    {
        var at = CertTypeOffset(cert) + 4;
        // key id, principals, valid after, valid before, critical options, extensions, reserved, CA key
        foreach (var field in new[] { 's', 's', '8', '8', 's', 's', 's', 's' })
        {
            at += field == '8' ? 8 : 4 + System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(cert.AsSpan(at));
        }

        return at;
    }
}
