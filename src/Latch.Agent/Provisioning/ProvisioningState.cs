using System.Text.Json;
using System.Text.Json.Serialization;
using Latch.Agent.Os;
using Latch.Core.Files;

namespace Latch.Agent.Provisioning;

/// <summary>
/// What the last successful provisioning did, kept in <c>{state}/state.json</c> (root, 0600) next to the waagent-style
/// marker <c>{state}/provisioned</c> (the VM id). The keys latchd installed go into the key guard's store
/// (<see cref="ProvisionedKeys"/>).
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

    public void WriteMarker(string vmId, CancellationToken cancellationToken = default)
    {
        EnsureDirectory(directory);
        SafeFile.WriteSystemFile(system.PathOf(MarkerPath), System.Text.Encoding.UTF8.GetBytes(vmId + "\n"), 0b110_100_100, cancellationToken);
    }

    /// <summary>
    /// Creates a root-owned directory of the managed system (and its parents, 0755) when missing: 0700, except the state
    /// directory itself, which is 0755 because the key guard's store (/var/lib/latch/keys) lives below it and latch-akc
    /// runs as an unprivileged user; the files in it that need it (state.json, the kept ovf-env.xml) are 0600 themselves.
    /// A state directory an earlier latchd made 0700 is opened to 0755 the same way.
    /// </summary>
    public void EnsureDirectory(string absolute)
    {
        const UnixFileMode open = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        var path = system.PathOf(absolute);
        var isState = absolute.TrimEnd('/') == directory.TrimEnd('/');
        if (!System.IO.Directory.Exists(path))
        {
            System.IO.Directory.CreateDirectory(path);
            File.SetUnixFileMode(path, isState ? open : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        else if (isState && (File.GetUnixFileMode(path) & UnixFileMode.OtherExecute) == 0 && new FileInfo(path).LinkTarget is null)
        {
            var before = "0" + Convert.ToString((int)File.GetUnixFileMode(path), 8);
            File.SetUnixFileMode(path, open);
            Log.StateDirectoryOpened(system.Logger, path, before);
        }
    }
}
