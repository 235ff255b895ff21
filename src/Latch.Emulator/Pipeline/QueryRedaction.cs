using System.Text;
using Microsoft.AspNetCore.Http;

namespace Latch.Emulator.Pipeline;

/// <summary>Renders a request target for logs: the path plus the query with the value of every secret-bearing key masked.</summary>
internal static class QueryRedaction
{
    // Values that are safe and useful to see; every other key's value is masked (sig, code, token, secret, ...).
    private static readonly HashSet<string> s_safeKeys = new(StringComparer.OrdinalIgnoreCase)
    {
        "api-version", "comp", "type", "incarnation", "format", "extended", "resource", "maxresults", "$top",
        "$expand", "$filter", "client_id", "object_id", "msi_res_id", "mi_res_id", "timeout",
    };

    public static string Render(HttpRequest request)
    {
        var path = request.PathBase.Add(request.Path).ToString();
        if (!request.QueryString.HasValue)
        {
            return path;
        }

        var builder = new StringBuilder(path).Append('?');
        var first = true;
        foreach (var (key, values) in request.Query)
        {
            foreach (var value in values.Count == 0 ? [""] : values.ToArray())
            {
                if (!first)
                {
                    builder.Append('&');
                }

                first = false;
                builder.Append(Uri.EscapeDataString(key)).Append('=');
                builder.Append(s_safeKeys.Contains(key) ? Uri.EscapeDataString(value ?? "") : "***");
            }
        }

        return builder.ToString();
    }
}
