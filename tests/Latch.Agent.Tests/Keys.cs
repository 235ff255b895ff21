namespace Latch.Agent.Tests;

/// <summary>Real ed25519 public keys (from ssh-keygen) used across the tests.</summary>
internal static class Keys
{
    public const string Web = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDPkF5VHRonIwWDx4J8dlx4vadF5+3dWZok5Cb9jWB6b web@test";
    public const string Operator = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJFg/BIQqU0lgnMOIP6ADbeMYZ+KorcO+kGQhOH7nwZz operator@test";
    public const string Db = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOdmhiGFVXt3ygig8V15U0ChGy5iZAmr3MrhKHSKPIRi db@test";
}
