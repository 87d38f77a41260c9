namespace CocoLaunch.Memory;

/// <summary>
/// An immutable map from every ulong key to a value, stored as runs of equal values. Readers use a
/// snapshot without locks; writers build a new map (KVM's attribute xarray plays this role).
/// </summary>
public sealed class IntervalMap<TValue>
    where TValue : IEquatable<TValue>
{
    // starts[0] == 0; run i covers [starts[i], starts[i + 1]) (the last run extends to the top).
    private readonly ulong[] starts;
    private readonly TValue[] values;

    public IntervalMap(TValue initial)
        : this([0], [initial])
    {
    }

    private IntervalMap(ulong[] starts, TValue[] values)
    {
        this.starts = starts;
        this.values = values;
    }

    public int RunCount => starts.Length;

    public TValue this[ulong key] => values[IndexOf(key)];

    /// <summary>The value at <paramref name="key"/> and the first key after its run (ulong.MaxValue for the last run).</summary>
    public (TValue Value, ulong RunEnd) Lookup(ulong key)
    {
        int i = IndexOf(key);
        return (values[i], i + 1 < starts.Length ? starts[i + 1] : ulong.MaxValue);
    }

    /// <summary>Whether every key in [start, end) maps to <paramref name="value"/>.</summary>
    public bool IsUniform(ulong start, ulong end, TValue value)
    {
        var (v, runEnd) = Lookup(start);
        return v.Equals(value) && runEnd >= end;
    }

    /// <summary>Runs overlapping [start, end), clipped to it.</summary>
    public IEnumerable<(ulong Start, ulong End, TValue Value)> Runs(ulong start, ulong end)
    {
        for (int i = IndexOf(start); i < starts.Length && starts[i] < end; i++)
        {
            ulong runEnd = i + 1 < starts.Length ? starts[i + 1] : ulong.MaxValue;
            yield return (Math.Max(start, starts[i]), Math.Min(end, runEnd), values[i]);
        }
    }

    /// <summary>A new map with [start, end) set to <paramref name="value"/>, adjacent equal runs merged.</summary>
    public IntervalMap<TValue> With(ulong start, ulong end, TValue value)
    {
        if (start >= end)
        {
            return this;
        }

        var s = new List<ulong>(starts.Length + 2);
        var v = new List<TValue>(starts.Length + 2);
        void Add(ulong at, TValue val)
        {
            if (v.Count > 0 && v[^1].Equals(val))
            {
                return;
            }

            s.Add(at);
            v.Add(val);
        }

        var (valueAtEnd, _) = end == ulong.MaxValue ? (value, 0UL) : Lookup(end);
        int i = 0;
        for (; i < starts.Length && starts[i] < start; i++)
        {
            Add(starts[i], values[i]);
        }

        Add(start, value);
        while (i < starts.Length && starts[i] <= end)
        {
            i++;
        }

        if (end != ulong.MaxValue)
        {
            Add(end, valueAtEnd);
        }

        for (; i < starts.Length; i++)
        {
            Add(starts[i], values[i]);
        }

        return new IntervalMap<TValue>([.. s], [.. v]);
    }

    private int IndexOf(ulong key)
    {
        int i = Array.BinarySearch(starts, key);
        return i >= 0 ? i : ~i - 1;
    }
}
