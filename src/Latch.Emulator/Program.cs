namespace Latch.Emulator;

internal static class Program
{
    private static int Main(string[] args)
    {
        Console.Error.WriteLine("latch-emulator: not implemented yet");
        return args.Length == 0 ? 2 : 2;
    }
}
