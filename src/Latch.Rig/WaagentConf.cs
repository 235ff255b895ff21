using System.Text;

namespace Latch.Rig;

/// <summary>Edits waagent.conf text: sets keys in place (uncommenting them) or appends them.</summary>
internal static class WaagentConf
{
    public static string Set(string conf, IReadOnlyDictionary<string, string> values)
    {
        var pending = new Dictionary<string, string>(values, StringComparer.Ordinal);
        var output = new StringBuilder();
        foreach (var line in conf.Split('\n'))
        {
            var text = line.TrimStart('#', ' ');
            var eq = text.IndexOf('=', StringComparison.Ordinal);
            var key = eq > 0 ? text[..eq].Trim() : null;
            if (key is not null && pending.Remove(key, out var value))
            {
                output.Append(key).Append('=').Append(value).Append('\n');
            }
            else
            {
                output.Append(line).Append('\n');
            }
        }

        var result = output.ToString().TrimEnd('\n') + "\n";
        foreach (var (key, value) in values.Where(v => pending.ContainsKey(v.Key)))
        {
            result += $"{key}={value}\n";
        }

        return result;
    }
}
