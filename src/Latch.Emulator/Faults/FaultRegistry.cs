namespace Latch.Emulator.Faults;

/// <summary>The active faults, in the order they were added; the first matching one hits a request. Thread-safe.</summary>
public sealed class FaultRegistry
{
    private readonly Lock _gate = new();
    private readonly List<FaultRule> _rules = [];

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

    /// <summary>Finds the first fault for this request and uses up one of its hits.</summary>
    public FaultRule? TryTake(string group, string path)
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

    private int RemoveAll(Predicate<FaultRule> predicate) => _rules.RemoveAll(predicate);
}
