namespace Latch.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
        Console.Error.WriteLine("latch: not implemented yet");
        return args.Length == 0 ? 2 : 2;
    }
}
