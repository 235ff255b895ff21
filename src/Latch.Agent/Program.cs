namespace Latch.Agent;

internal static class Program
{
    private static Task<int> Main(string[] args) =>
        AgentCommandLine.RunAsync(args, new AgentStreams(Console.In, Console.Out, Console.Error));
}
