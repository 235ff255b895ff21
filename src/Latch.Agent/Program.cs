namespace Latch.Agent;

internal static class Program
{
    private static int Main(string[] args)
    {
        Console.Error.WriteLine("latchd: not implemented yet");
        return args.Length == 0 ? 2 : 2;
    }
}
