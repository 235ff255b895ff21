namespace Latch.Agent.Os;

/// <summary>The VM id when IMDS is not used: the SMBIOS product UUID, as azure-init reads it.</summary>
internal static class VmIdentity
{
    public static string? FromDmi(HostSystem system)
    {
        try
        {
            return system.TryReadText("/sys/class/dmi/id/product_uuid")?.Trim().ToLowerInvariant() is { Length: > 0 } id ? id : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
