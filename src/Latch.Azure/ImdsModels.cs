namespace Latch.Azure;

/// <summary>What IMDS <c>/metadata/instance</c> says about this VM.</summary>
public sealed record ImdsInstance(ImdsCompute Compute, IReadOnlyList<ImdsNetworkInterface> NetworkInterfaces);

/// <summary>The <c>compute</c> section. Tags come from <c>tagsList</c> (or the older <c>tags</c> "k:v;k:v" string).</summary>
public sealed record ImdsCompute(
    string Name,
    string VmId,
    string? Location,
    string? ResourceGroupName,
    string? SubscriptionId,
    string? VmSize,
    IReadOnlyDictionary<string, string> Tags,
    ImdsOsProfile? OsProfile,
    IReadOnlyList<ImdsPublicKey> PublicKeys,
    string? CustomData,
    string? UserData)
{
    // custom and user data may carry the user's secrets: print only their size
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"Name = {Name}, VmId = {VmId}, Location = {Location}, ResourceGroupName = {ResourceGroupName}, SubscriptionId = {SubscriptionId}, VmSize = {VmSize}, ")
            .Append($"Tags = {Tags.Count}, OsProfile = {OsProfile}, PublicKeys = {PublicKeys.Count}, ")
            .Append($"CustomData = {(CustomData is null ? "null" : CustomData.Length + " chars")}, UserData = {(UserData is null ? "null" : UserData.Length + " chars")}");
        return true;
    }
}

/// <summary><c>compute.osProfile</c>; <paramref name="DisablePasswordAuthentication"/> is true unless IMDS says "false".</summary>
public sealed record ImdsOsProfile(string AdminUsername, string ComputerName, bool DisablePasswordAuthentication);

/// <summary>One <c>compute.publicKeys[]</c> entry; CR/LF already removed from <paramref name="KeyData"/>.</summary>
public sealed record ImdsPublicKey(string KeyData, string? Path);

public sealed record ImdsNetworkInterface(string? MacAddress, IReadOnlyList<ImdsIpAddress> Ipv4Addresses, IReadOnlyList<ImdsSubnet> Ipv4Subnets);

public sealed record ImdsIpAddress(string PrivateIpAddress, string? PublicIpAddress);

public sealed record ImdsSubnet(string Address, string? Prefix);
