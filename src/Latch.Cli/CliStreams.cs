namespace Latch.Cli;

/// <summary>Where a command reads and writes, so tests can run commands in-process.</summary>
internal sealed record CliStreams(Func<Stream> OpenStandardInput, TextWriter Out, TextWriter Error);
