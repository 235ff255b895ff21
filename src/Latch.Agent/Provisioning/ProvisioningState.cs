using System.Text.Json;
using System.Text.Json.Serialization;
using Latch.Agent.Os;
using Latch.Core.Files;

namespace Latch.Agent.Provisioning;

/// <summary>
/// What the last successful provisioning did, kept in <c>{state}/state.json</c> (root, 0600) next to the waagent-style
/// marker <c>{state}/provisioned</c> (the VM id) and <c>{state}/managed-keys/{user}</c> (the key lines latchd installed,
/// for the key guard).
/// </summary>
internal sealed record ProvisioningState(
    string VmId,
    string UserName,
    uint Uid,
    string Home,
    IReadOnlyList<string> KeyFingerprints,
    string? HostKeyThumbprint,
    DateTimeOffset ProvisionedAt);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true)]
[JsonSerializable(typeof(ProvisioningState))]
internal sealed partial class AgentJsonContext : JsonSerializerContext;

/// <summary>Reads and writes latchd's state directory (default /var/lib/latch).</summary>
internal sealed class StateStore(HostSystem system, string directory)
{
    public string Directory => directory;

    public string MarkerPath => directory + "/provisioned";

    public string StatePath => directory + "/state.json";

    public string ManagedKeysPath(string user) => directory + "/managed-keys/" + user;

    /// <summary>The VM id in the marker, or null when this machine was never provisioned by latchd.</summary>
    public string? ReadMarker() => system.TryReadText(MarkerPath)?.Trim() is { Length: > 0 } id ? id : null;

    public ProvisioningState? ReadState()
    {
        var text = system.TryReadText(StatePath);
        if (text is null)
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(text, AgentJsonContext.Default.ProvisioningState);
        }
        catch (JsonException e)
        {
            Log.StateUnreadable(system.Logger, system.PathOf(StatePath), e.Message);
            return null;
        }
    }

    public void WriteState(ProvisioningState state, CancellationToken cancellationToken = default)
    {
        EnsureDirectory(directory);
        SafeFile.WriteSystemFile(system.PathOf(StatePath), JsonSerializer.SerializeToUtf8Bytes(state, AgentJsonContext.Default.ProvisioningState), 0b110_000_000, cancellationToken);
    }

    public void WriteManagedKeys(string user, string lines, CancellationToken cancellationToken = default)
    {
        EnsureDirectory(directory + "/managed-keys");
        SafeFile.WriteSystemFile(system.PathOf(ManagedKeysPath(user)), System.Text.Encoding.UTF8.GetBytes(lines), 0b110_000_000, cancellationToken);
    }

    public void WriteMarker(string vmId, CancellationToken cancellationToken = default)
    {
        EnsureDirectory(directory);
        SafeFile.WriteSystemFile(system.PathOf(MarkerPath), System.Text.Encoding.UTF8.GetBytes(vmId + "\n"), 0b110_100_100, cancellationToken);
    }

    /// <summary>
    /// Creates a root-owned 0700 directory of the managed system (and its parents, 0755) when missing. The state
    /// directory itself is 0755: the key guard's store lives below it (/var/lib/latch/keys), and sshd runs the
    /// AuthorizedKeysCommand as an unprivileged user whose checked walk opens every directory on the way (read and
    /// search). Only names are visible; every file in it keeps its own restrictive mode (state.json and ovf-env.xml
    /// 0600, sudoers.check 0440, managed-keys/ 0700).
    /// </summary>
    public void EnsureDirectory(string absolute)
    {
        var path = system.PathOf(absolute);
        if (!System.IO.Directory.Exists(path))
        {
            System.IO.Directory.CreateDirectory(path);
            var mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
            const UnixFileMode readAndSearch = UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
            File.SetUnixFileMode(path, absolute == directory ? mode | readAndSearch : mode);
        }
    }
}
