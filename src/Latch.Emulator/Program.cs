namespace Latch.Emulator;

internal static class Program
{
    private static Task<int> Main(string[] args) => EmulatorCommand.RunAsync(args, Console.Out, Console.Error);
}
