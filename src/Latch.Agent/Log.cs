using Microsoft.Extensions.Logging;

namespace Latch.Agent;

/// <summary>Every log message of latchd. Arguments are names, paths, counts and fingerprints: never a password or hash.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Debug, Message = "running {Command}")]
    public static partial void Running(ILogger logger, string command);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Error, Message = "cannot reach the WireServer for the goal state, so no health can be reported: {Error}")]
    public static partial void WireServerUnreachable(ILogger logger, string error);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "IMDS is unavailable ({Error}); continuing with ovf-env.xml if there is one")]
    public static partial void ImdsUnavailable(ILogger logger, string error);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Information, Message = "Provisioning.Agent is '{Agent}': not provisioning, only reporting Ready")]
    public static partial void ProvisioningDisabled(ILogger logger, string agent);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Information, Message = "already provisioned for VM {VmId} ({Marker}); reporting Ready without changing anything")]
    public static partial void AlreadyProvisioned(ILogger logger, string vmId, string marker);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Warning, Message = "the marker names VM {Old} but this is VM {New}: a new instance, provisioning again")]
    public static partial void NewInstance(ILogger logger, string old, string @new);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Information, Message = "precedence: {Decision}")]
    public static partial void Precedence(ILogger logger, string decision);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Information, Message = "plan: {Note}")]
    public static partial void PlanNote(ILogger logger, string note);

    [LoggerMessage(EventId = 3009, Level = LogLevel.Error, Message = "provisioning failed in step '{Step}' ({Code}): {Error}")]
    public static partial void ProvisioningFailed(ILogger logger, string step, string code, string error);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Information, Message = "provisioned VM {VmId}: user {User}, {Keys} key(s)")]
    public static partial void Provisioned(ILogger logger, string vmId, string user, int keys);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Information, Message = "reported Ready (goal state incarnation {Incarnation})")]
    public static partial void ReportedReady(ILogger logger, string incarnation);

    [LoggerMessage(EventId = 3012, Level = LogLevel.Error, Message = "the WireServer did not take the {State} {SubStatus} health report: {Error}")]
    public static partial void HealthNotReported(ILogger logger, string state, string subStatus, string error);

    [LoggerMessage(EventId = 3013, Level = LogLevel.Information, Message = "reported the SSH host key thumbprint {Thumbprint} as role property CertificateThumbprint")]
    public static partial void ThumbprintReported(ILogger logger, string thumbprint);

    [LoggerMessage(EventId = 3014, Level = LogLevel.Warning, Message = "the SSH host key thumbprint was not reported: {Error}")]
    public static partial void ThumbprintNotReported(ILogger logger, string error);

    [LoggerMessage(EventId = 3015, Level = LogLevel.Information, Message = "reading ovf-env.xml from {Path} (Latch.OvfEnvPath)")]
    public static partial void OvfEnvFromFile(ILogger logger, string path);

    [LoggerMessage(EventId = 3016, Level = LogLevel.Information, Message = "found ovf-env.xml on {Device}")]
    public static partial void MediaFound(ILogger logger, string device);

    [LoggerMessage(EventId = 3017, Level = LogLevel.Warning, Message = "cannot mount {Device}: {Error}")]
    public static partial void MediaMountFailed(ILogger logger, string device, string error);

    [LoggerMessage(EventId = 3018, Level = LogLevel.Warning, Message = "cannot unmount {MountPoint}: {Error}")]
    public static partial void MediaUnmountFailed(ILogger logger, string mountPoint, string error);

    [LoggerMessage(EventId = 3019, Level = LogLevel.Information, Message = "mixed {Bytes} bytes of Hyper-V entropy (ACPI OEM0) into /dev/urandom")]
    public static partial void EntropySeeded(ILogger logger, int bytes);

    [LoggerMessage(EventId = 3020, Level = LogLevel.Warning, Message = "cannot seed entropy from ACPI OEM0: {Error}")]
    public static partial void EntropyFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 3021, Level = LogLevel.Information, Message = "host name set to {HostName}")]
    public static partial void HostNameSet(ILogger logger, string hostName);

    [LoggerMessage(EventId = 3022, Level = LogLevel.Information, Message = "created user {User} (useradd -m -s /bin/bash)")]
    public static partial void UserCreated(ILogger logger, string user);

    [LoggerMessage(EventId = 3023, Level = LogLevel.Information, Message = "set the password of {User} (SHA-512 crypt, chpasswd -e)")]
    public static partial void PasswordSet(ILogger logger, string user);

    [LoggerMessage(EventId = 3024, Level = LogLevel.Information, Message = "locked the password of {User} (no password supplied; keys only)")]
    public static partial void PasswordLocked(ILogger logger, string user);

    [LoggerMessage(EventId = 3025, Level = LogLevel.Information, Message = "deleted (locked) the root password (Provisioning.DeleteRootPassword)")]
    public static partial void RootPasswordDeleted(ILogger logger);

    [LoggerMessage(EventId = 3026, Level = LogLevel.Information, Message = "wrote {Path} (checked by visudo)")]
    public static partial void SudoersWritten(ILogger logger, string path);

    [LoggerMessage(EventId = 3027, Level = LogLevel.Warning, Message = "/etc/sudoers has no includedir for {Directory}; the drop-in has no effect until it does")]
    public static partial void SudoersNotIncluded(ILogger logger, string directory);

    [LoggerMessage(EventId = 3028, Level = LogLevel.Information, Message = "{Path}: added {Added} key(s), {Present} already present (file created: {Created})")]
    public static partial void KeysInstalled(ILogger logger, int added, int present, string path, bool created);

    [LoggerMessage(EventId = 3029, Level = LogLevel.Information, Message = "regenerated the SSH host keys ({Type})")]
    public static partial void HostKeysRegenerated(ILogger logger, string type);

    [LoggerMessage(EventId = 3030, Level = LogLevel.Warning, Message = "{MainConfig} has no 'Include …sshd_config.d/*.conf' line, so {DropIn} has no effect; add the Include at the top of {MainConfig}")]
    public static partial void SshdIncludeMissing(ILogger logger, string mainConfig, string dropIn);

    [LoggerMessage(EventId = 3031, Level = LogLevel.Warning, Message = "sshd uses {Setting} {Actual}, not latchd's {Wanted}: an earlier sshd_config line or drop-in sets it first")]
    public static partial void SshdSettingOverridden(ILogger logger, string setting, string wanted, string actual);

    [LoggerMessage(EventId = 3032, Level = LogLevel.Information, Message = "sshd reloaded ({How})")]
    public static partial void SshdReloaded(ILogger logger, string how);

    [LoggerMessage(EventId = 3033, Level = LogLevel.Information, Message = "sshd is not running (no live pid in /run/sshd.pid); the settings apply when it starts")]
    public static partial void SshdNotRunning(ILogger logger);

    [LoggerMessage(EventId = 3034, Level = LogLevel.Warning, Message = "cannot read {Path} ({Error}); treating this machine as never provisioned by latchd")]
    public static partial void StateUnreadable(ILogger logger, string path, string error);

    [LoggerMessage(EventId = 3035, Level = LogLevel.Information, Message = "latchd is running (systemd notified: {Notified}); waiting for SIGTERM")]
    public static partial void DaemonReady(ILogger logger, bool notified);

    [LoggerMessage(EventId = 3036, Level = LogLevel.Information, Message = "stopping")]
    public static partial void Stopping(ILogger logger);

    [LoggerMessage(EventId = 3037, Level = LogLevel.Warning, Message = "{Source}: latchd ignores these keys: {Keys}")]
    public static partial void IgnoredKeys(ILogger logger, string source, string keys);

    [LoggerMessage(EventId = 3038, Level = LogLevel.Information, Message = "configuration: {Source}")]
    public static partial void ConfigSource(ILogger logger, string source);

    [LoggerMessage(EventId = 3039, Level = LogLevel.Information, Message = "{Path}: {Added} provisioned key(s) added to the key guard's store (source provisioning)")]
    public static partial void KeysRecorded(ILogger logger, string path, int added);

    [LoggerMessage(EventId = 3040, Level = LogLevel.Information, Message = "moved the provisioned keys of {Legacy} ({Keys} key(s)) into the key guard's store {Path}")]
    public static partial void LegacyKeysMigrated(ILogger logger, string legacy, int keys, string path);

    [LoggerMessage(EventId = 3041, Level = LogLevel.Warning, Message = "{Legacy}: not moved into the key guard's store: {Reason}")]
    public static partial void LegacyKeysSkipped(ILogger logger, string legacy, string reason);

    [LoggerMessage(EventId = 3042, Level = LogLevel.Information, Message = "{Directory} was {Mode}; made it 0755 so latch-akc (an unprivileged user) can reach the key store below it (the files that need it are 0600 themselves)")]
    public static partial void StateDirectoryOpened(ILogger logger, string directory, string mode);

    [LoggerMessage(EventId = 3043, Level = LogLevel.Information, Message = "host name publishing: {Action}")]
    public static partial void HostNamePublished(ILogger logger, string action);

    [LoggerMessage(EventId = 3044, Level = LogLevel.Information, Message = "resource disk: {Detail}")]
    public static partial void ResourceDisk(ILogger logger, string detail);

    [LoggerMessage(EventId = 3045, Level = LogLevel.Warning, Message = "resource disk left alone: {Detail}")]
    public static partial void ResourceDiskRefused(ILogger logger, string detail);

    [LoggerMessage(EventId = 3046, Level = LogLevel.Error, Message = "resource disk failed: {Detail}")]
    public static partial void ResourceDiskFailed(ILogger logger, string detail);

    [LoggerMessage(EventId = 3047, Level = LogLevel.Information, Message = "SCSI timeout set to {Seconds} s on {Disks}")]
    public static partial void ScsiTimeoutSet(ILogger logger, int seconds, string disks);

    [LoggerMessage(EventId = 3048, Level = LogLevel.Error, Message = "cannot set the SCSI timeout: {Error}")]
    public static partial void ScsiTimeoutFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 3049, Level = LogLevel.Information, Message = "idle: resident memory {Before:0.0} MB; compacting GC done, handing back the clean pages of {Mappings} read-only file mappings")]
    public static partial void IdleTrimmed(ILogger logger, double before, int mappings);

    [LoggerMessage(EventId = 3050, Level = LogLevel.Warning, Message = "cannot execute {Path} as the idle daemon ({Error}); going on with the next image, or in this process")]
    public static partial void ReexecFailed(ILogger logger, string path, string error);

    [LoggerMessage(EventId = 3053, Level = LogLevel.Information, Message = "continuing as {Image} run --after-ready (peak resident memory so far {PeakMb:0.0} MB)")]
    public static partial void Reexecuting(ILogger logger, string image, double peakMb);

    [LoggerMessage(EventId = 3051, Level = LogLevel.Information, Message = "Key Vault pull is configured and {Image} does not carry the Key Vault client: handing the key guard over to latchd's own image")]
    public static partial void KeyVaultHandOver(ILogger logger, string image);

    [LoggerMessage(EventId = 3052, Level = LogLevel.Error, Message = "Key Vault pull is configured but {Image} could not hand over to latchd: the file guard and control socket run without the pull; reinstall latchd next to it and restart the service")]
    public static partial void KeyVaultHandOverFailed(ILogger logger, string image);
}
