namespace Latch.Agent.Os;

/// <summary>Hyper-V hands each VM random bytes in the ACPI OEM0 table; waagent mixes them into the kernel pool at start.</summary>
internal static class Entropy
{
    public const string Oem0 = "/sys/firmware/acpi/tables/OEM0";

    /// <summary>Writes OEM0 into /dev/urandom (mixed in, not credited). Returns the byte count, 0 when there is no table.</summary>
    public static int Seed(HostSystem system)
    {
        byte[] seed;
        try
        {
            seed = File.ReadAllBytes(system.PathOf(Oem0));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            return 0;
        }

        using var urandom = new FileStream(system.PathOf("/dev/urandom"), FileMode.Open, FileAccess.Write);
        urandom.Write(seed);
        return seed.Length;
    }
}
