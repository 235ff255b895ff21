using System.Diagnostics;
using System.Text.RegularExpressions;
using Latch.Testing;

namespace Latch.Cli.Tests;

public sealed partial class NativeAotPublishTests
{
    [Fact]
    public async Task Native_AOT_publish_of_latch_has_no_trim_or_AOT_warnings()
    {
        Requires.Tool("clang");
        var output = Directory.CreateTempSubdirectory("latch-aot-").FullName;
        try
        {
            var start = new ProcessStartInfo("dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = CliRun.RepoRoot,
            };
            // --artifacts-path: its own bin/obj, so it never rewrites the Debug outputs other test processes are running from
            foreach (var arg in new[] { "publish", "src/Latch.Cli", "-r", "linux-x64", "-p:PublishAot=true", "-o", output, "--artifacts-path", Path.Combine(output, "artifacts"), "-nologo", "-v", "minimal" })
            {
                start.ArgumentList.Add(arg);
            }

            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            using (var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(10)))
            {
                await process.WaitForExitAsync(deadline.Token);
            }

            var log = await stdout + await stderr;
            Assert.True(process.ExitCode == 0, "dotnet publish failed:\n" + log);
            Assert.Empty(IlWarning().Matches(log).Select(m => m.Value).Distinct());

            // and the native binary works
            using var latch = Process.Start(new ProcessStartInfo(Path.Combine(output, "latch"), ["keys", "lint", Path.Combine(CliRun.RepoRoot, "examples", "authorized_keys")]) { RedirectStandardOutput = true })!;
            var text = await latch.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
            await latch.WaitForExitAsync(TestContext.Current.CancellationToken);
            Assert.Equal(1, latch.ExitCode);
            Assert.Contains("5 keys, 1 malformed line", text, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    [GeneratedRegex(@"IL[23]\d{3}[^\n]*")]
    private static partial Regex IlWarning();
}
