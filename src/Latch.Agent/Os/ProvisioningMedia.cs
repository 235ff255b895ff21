using System.Text.RegularExpressions;
using Latch.Agent.Provisioning;
using Latch.Azure;
using Latch.Core.Files;

namespace Latch.Agent.Os;

/// <summary>
/// Finds ovf-env.xml: a configured file, or the provisioning DVD (the first /dev block device matching waagent's
/// pattern, mounted read-only with waagent's file system list at DVD.MountPoint, then unmounted). A copy with the
/// password masked is kept at {state}/ovf-env.xml (0600) for diagnosis, as waagent keeps its own.
/// </summary>
internal sealed partial class ProvisioningMedia(HostSystem system, string mountPoint, StateStore state)
{
    [GeneratedRegex("^(sr[0-9]|hd[c-z]|cdrom[0-9]|cd[0-9]|vd[b-z])$", RegexOptions.CultureInvariant)]
    internal static partial Regex DevicePattern();

    [GeneratedRegex(@"(<(?:[A-Za-z_][\w.-]*:)?UserPassword>)[^<]*", RegexOptions.CultureInvariant)]
    private static partial Regex PasswordPattern();

    /// <summary>The candidate device names under /dev, sorted.</summary>
    public IReadOnlyList<string> Devices()
    {
        var dev = system.PathOf("/dev");
        if (!Directory.Exists(dev))
        {
            return [];
        }

        return [.. Directory.EnumerateFileSystemEntries(dev).Select(Path.GetFileName).Where(n => n is not null && DevicePattern().IsMatch(n)).Order(StringComparer.Ordinal)!];
    }

    /// <summary>Reads ovf-env.xml from a file of the managed system; throws when it is missing or malformed.</summary>
    public OvfEnvironment ReadFile(string absolutePath, bool keepCopy, CancellationToken cancellationToken = default)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(system.PathOf(absolutePath));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ProvisioningException("media", "OvfEnvUnreadable", $"cannot read {absolutePath}: {e.Message}", e);
        }

        return Parse(bytes, absolutePath, keepCopy, cancellationToken);
    }

    /// <summary>Mounts each candidate device until one holds ovf-env.xml; null when none does.</summary>
    public async Task<OvfEnvironment?> ReadFromDeviceAsync(CancellationToken cancellationToken = default)
    {
        foreach (var device in Devices())
        {
            state.EnsureDirectory(mountPoint);
            var mount = await system.RunAsync(["mount", "-o", "ro,nosuid,nodev,noexec", "-t", "udf,iso9660,vfat", "/dev/" + device, mountPoint], cancellationToken: cancellationToken).ConfigureAwait(false);
            if (!mount.Succeeded)
            {
                Log.MediaMountFailed(system.Logger, "/dev/" + device, mount.Output);
                continue;
            }

            try
            {
                var file = mountPoint + "/ovf-env.xml";
                if (File.Exists(system.PathOf(file)))
                {
                    Log.MediaFound(system.Logger, "/dev/" + device);
                    return ReadFile(file, keepCopy: true, cancellationToken);
                }
            }
            finally
            {
                var unmount = await system.RunAsync(["umount", mountPoint], cancellationToken: CancellationToken.None).ConfigureAwait(false);
                if (!unmount.Succeeded)
                {
                    Log.MediaUnmountFailed(system.Logger, mountPoint, unmount.Output);
                }
            }
        }

        return null;
    }

    private OvfEnvironment Parse(byte[] bytes, string source, bool keepCopy, CancellationToken cancellationToken)
    {
        OvfEnvironment ovf;
        try
        {
            ovf = OvfEnvironment.Parse(bytes);
        }
        catch (AzureFormatException e)
        {
            throw new ProvisioningException("media", "OvfEnvMalformed", $"{source}: {e.Message}", e);
        }

        if (keepCopy)
        {
            var masked = PasswordPattern().Replace(System.Text.Encoding.UTF8.GetString(bytes), "$1*");
            state.EnsureDirectory(state.Directory);
            SafeFile.WriteSystemFile(system.PathOf(state.Directory + "/ovf-env.xml"), System.Text.Encoding.UTF8.GetBytes(masked), 0b110_000_000, cancellationToken);
        }

        return ovf;
    }
}
