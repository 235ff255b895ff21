// Latch runs on Linux only (it manages sshd and Azure Linux VMs).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Latch.Emulator;

internal static class Program
{
    private static Task<int> Main(string[] args) => EmulatorCommand.RunAsync(args, Console.Out, Console.Error);
}
