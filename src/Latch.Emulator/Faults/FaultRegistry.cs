namespace Latch.Emulator.Faults;

/// <summary>The active faults, in the order they were added; the first matching one hits a request. Thread-safe.</summary>
public sealed class FaultRegistry
{
    private readonly Lock _gate = new();
    private readonly List<FaultRule> _rules = [];
    private readonly Dictionary<string, (long Window, int Count)> _windows = new(StringComparer.Ordinal);

    /// <summary>The length of a <see cref="FaultKind.Limit"/> window.</summary>
    public static readonly TimeSpan LimitWindow = TimeSpan.FromSeconds(10);

    public IReadOnlyList<FaultRule> Active
    {
        get
        {
            lock (_gate)
            {
                return [.. _rules];
            }
        }
    }

    public FaultRule Add(FaultRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        if (rule.Validate() is { } problem)
        {
            throw new ArgumentException(problem, nameof(rule));
        }

        lock (_gate)
        {
            _rules.Add(rule);
        }

        return rule;
    }

    /// <summary>Removes every fault (group null) or the faults of one group. Returns how many were removed.</summary>
    public int Clear(string? group = null)
    {
        lock (_gate)
        {
            return group is null
                ? RemoveAll(_ => true)
                : RemoveAll(r => string.Equals(r.Group, group, StringComparison.OrdinalIgnoreCase));
        }
    }

    public bool Remove(string id)
    {
        lock (_gate)
        {
            return RemoveAll(r => r.Id == id) > 0;
        }
    }

    /// <summary>
    /// Finds the first fault for this request and uses up one of its hits. A <see cref="FaultKind.Limit"/> rule counts the
    /// request in the window <paramref name="now"/> falls in and hits it only past the limit.
    /// </summary>
    public FaultRule? TryTake(string group, string path, DateTimeOffset now)
    {
        lock (_gate)
        {
            for (var i = 0; i < _rules.Count; i++)
            {
                var rule = _rules[i];
                if (!rule.Matches(group, path))
                {
                    continue;
                }

                if (rule.Kind == FaultKind.Limit)
                {
                    var window = now.UtcTicks / LimitWindow.Ticks;
                    var seen = _windows.TryGetValue(rule.Id, out var w) && w.Window == window ? w.Count + 1 : 1;
                    _windows[rule.Id] = (window, seen);
                    if (seen <= rule.Value)
                    {
                        continue;
                    }
                }

                if (rule.Count is { } count)
                {
                    if (count <= 1)
                    {
                        _rules.RemoveAt(i);
                    }
                    else
                    {
                        _rules[i] = rule with { Count = count - 1 };
                    }
                }

                return rule;
            }

            return null;
        }
    }

    /// <summary>Whole seconds from <paramref name="now"/> to the end of its <see cref="LimitWindow"/> (at least 1).</summary>
    public static int SecondsLeftInWindow(DateTimeOffset now)
    {
        var left = LimitWindow.Ticks - (now.UtcTicks % LimitWindow.Ticks);
        return Math.Max(1, (int)Math.Ceiling(left / (double)TimeSpan.TicksPerSecond));
    }

    private int RemoveAll(Predicate<FaultRule> predicate)
    {
        var removed = _rules.RemoveAll(predicate);
        foreach (var id in _windows.Keys.Where(id => _rules.All(r => r.Id != id)).ToList())
        {
            _windows.Remove(id);
        }

        return removed;
    }
}
