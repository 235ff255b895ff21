namespace Latch.Cli;

internal static class Program
{
    private static Task<int> Main(string[] args) =>
        LatchCommandLine.RunAsync(args, new CliStreams(Console.OpenStandardInput, Console.Out, Console.Error));
}
