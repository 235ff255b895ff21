using System.Text;
using Latch.Cli.Sync;
using Latch.Cli.Tests.Infrastructure;
using Latch.Core.Keys;

namespace Latch.Cli.Tests;

/// <summary>
/// 10,000 generated hostile comments, key texts and user names go through the script generator. Each one is either
/// rejected before a script exists, or its script runs with real bash as root and the key lands verbatim; no payload
/// ever runs (a canary file never appears).
/// </summary>
public sealed class InjectionTests
{
    private const int Cases = 10_000;
    private const int Shards = 4;

    private static readonly string[] s_payloads =
    [
        "$(touch {C})", "`touch {C}`", "'; touch {C}; '", "\"; touch {C}; \"", "\ntouch {C}\n", "\r\ntouch {C}", "\0touch {C}",
        "| touch {C}", "&& touch {C}", "; touch {C}", "${IFS}touch${IFS}{C}", "$'\\x74ouch' {C}", "\\$(touch {C})", "$((1+1))",
        "{C}", "*", "?", "~root", "{a,b}", "#", "--", "-rf /", "%s%n", "[x]", "^~=", "é", "\u202etouch {C}", "ｔｏｕｃｈ {C}",
        "\u0000", "\u001b[31m", "\t", "..", "../../etc/passwd", "a b c", "$HOME", "$(id)", "<(touch {C})", ">{C}", ">>{C}",
        "LATCH_EOF\ntouch {C}\nLATCH_EOF", "latch-sync: present", "\\", "'", "\"", "`", "$", "!", "!!", "@", "+", ":", ",", "/", "%",
    ];

    private static readonly string[] s_safeFragments = ["alice", "ops@host", "key-1", "2025.01", "x_y", "A:B", "c,d", "e=f", "g/h", "[i]", "{j}", "k#l", "m~n", "o^p", "q%r", "s+t"];

    internal sealed record Case(string User, string Key);

    internal static List<Case> Generate(string canary, int seed)
    {
        var random = new Random(seed);
        string Payload() => s_payloads[random.Next(s_payloads.Length)].Replace("{C}", canary, StringComparison.Ordinal);
        string Safe() => s_safeFragments[random.Next(s_safeFragments.Length)];
        var cases = new List<Case>(Cases);
        for (var i = 0; i < Cases; i++)
        {
            var key = TestKeys.Ed25519(seed: seed * 100_000 + i);
            var user = "azureuser";
            // mostly hostile: about one case in six gets through validation and is run with bash
            switch (random.Next(20))
            {
                case 0:
                    key += " " + Safe() + " " + Safe();
                    break;
                case < 11:
                    key += " " + Payload() + Safe() + Payload();
                    break;
                case < 13:
                    // hostile text in place of the type or inside the base64
                    var parts = key.Split(' ');
                    key = random.Next(2) == 0 ? Payload() + " " + parts[1] : parts[0] + " " + parts[1][..20] + Payload() + parts[1][20..];
                    break;
                case < 15:
                    key = Payload() + key;
                    break;
                case < 17:
                    user = Payload();
                    break;
                case < 19:
                    user = Safe() + Payload() + (random.Next(2) == 0 ? "" : Payload());
                    key += " " + Safe();
                    break;
                default:
                    user = "Azure.User_" + random.Next(100);
                    key += " " + Safe();
                    break;
            }

            cases.Add(new Case(user, key));
        }

        return cases;
    }

    [Fact]
    public async Task Ten_thousand_hostile_inputs_are_rejected_or_stored_verbatim_and_never_executed()
    {
        Requires.Root();
        using var outer = ScriptVm.Create(uid: 44000);
        var canary = Path.Combine(outer.Root, "CANARY");
        var cases = Generate(canary, seed: 20_251_125);
        var accepted = new List<(Case Case, string Script, string Line)>();
        var rejected = 0;
        foreach (var c in cases)
        {
            if (SyncScript.TryCreate(SyncMode.Ensure, c.User, c.Key, null, 30, out var script, out var error))
            {
                Assert.True(KeyValidator.TryValidate(c.Key, KeyValidationOptions.Default, out var parsed, out _));
                accepted.Add((c, script, parsed!.ToLine()));
            }
            else
            {
                Assert.False(string.IsNullOrWhiteSpace(error));
                rejected++;
            }
        }

        Assert.Equal(Cases, accepted.Count + rejected);
        Assert.InRange(accepted.Count, 500, Cases - 500); // the generator exercises both paths

        // run the accepted scripts in shards: each shard is one namespace with its own user and home, scripts in sequence
        var vms = Enumerable.Range(0, Shards).Select(i => ScriptVm.Create(uid: 44001 + i)).ToList();
        try
        {
            var shards = Enumerable.Range(0, Shards).Select(s => accepted.Where((_, i) => i % Shards == s).ToList()).ToList();
            var outputs = await Task.WhenAll(shards.Select((shard, s) => RunShardAsync(vms[s], shard.Select(a => a.Script).ToList(), s)));

            Assert.False(File.Exists(canary), "a payload ran: the canary file exists");
            Assert.Empty(Directory.GetFiles(vms[0].Root, "*CANARY*", SearchOption.AllDirectories));
            for (var s = 0; s < Shards; s++)
            {
                var results = outputs[s];
                var shard = shards[s];
                Assert.Equal(shard.Count, results.Count);
                var lines = File.Exists(vms[s].AuthorizedKeys) ? File.ReadAllLines(vms[s].AuthorizedKeys) : [];
                for (var i = 0; i < shard.Count; i++)
                {
                    var (c, _, line) = shard[i];
                    var (exit, stdout) = results[i];
                    if (c.User == "azureuser")
                    {
                        Assert.True(exit == 0, $"case user='{c.User}' key='{c.Key}' exited {exit}: {stdout}");
                        Assert.Equal(1, lines.Count(l => l == line));
                    }
                    else
                    {
                        // a valid-looking name that does not exist on the VM: refused, nothing written
                        Assert.Equal(SyncScript.Exit.NoUser, exit);
                    }
                }

                var document = AuthorizedKeysDocument.Parse(File.Exists(vms[s].AuthorizedKeys) ? File.ReadAllBytes(vms[s].AuthorizedKeys) : []);
                Assert.DoesNotContain(document.Lines, l => l.Kind == LineKind.Malformed);
            }
        }
        finally
        {
            foreach (var vm in vms)
            {
                vm.Dispose();
            }
        }
    }

    /// <summary>Writes the scripts to files and runs them one after another with bash inside one namespace.</summary>
    private static async Task<List<(int Exit, string Stdout)>> RunShardAsync(ScriptVm vm, List<string> scripts, int shard)
    {
        var directory = Path.Combine(vm.Root, "scripts");
        Directory.CreateDirectory(directory);
        for (var i = 0; i < scripts.Count; i++)
        {
            await File.WriteAllTextAsync(Path.Combine(directory, $"{i:D5}.sh"), scripts[i], TestContext.Current.CancellationToken);
        }

        var runner = new StringBuilder();
        runner.Append("cd / || exit 1\n");
        runner.Append(System.Globalization.CultureInfo.InvariantCulture, $"for f in '{directory}'/*.sh; do /bin/bash \"$f\" > \"$f.out\" 2>&1; echo $? > \"$f.exit\"; done\n");
        var result = await vm.RunAsync(runner.ToString());
        Assert.True(result.ExitCode == 0, $"shard {shard} runner failed: {result.Stderr}");
        var outputs = new List<(int, string)>();
        for (var i = 0; i < scripts.Count; i++)
        {
            var file = Path.Combine(directory, $"{i:D5}.sh");
            outputs.Add((int.Parse(File.ReadAllText(file + ".exit").Trim(), System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(file + ".out")));
        }

        return outputs;
    }
}
