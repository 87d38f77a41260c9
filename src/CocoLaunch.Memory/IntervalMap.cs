namespace CocoLaunch.Memory;

/// <summary>
/// An immutable map from every ulong key to a value, stored as runs of equal values. Readers use a
/// snapshot without locks; writers build a new map (KVM's attribute xarray plays this role). The runs
/// live in a persistent AVL tree: an update copies only the O(log n) nodes on its paths, so n small
/// updates cost O(n log n) rather than the O(n²) of copying every run each time.
/// </summary>
public sealed partial class IntervalMap<TValue>
    where TValue : IEquatable<TValue>
{
    // Keyed by run start; the first run starts at 0 and each run extends to the next start (the last to the top).
    // Adjacent runs always differ in value, so the tree is the smallest description of the map.
    private readonly Node root;

    public IntervalMap(TValue initial)
        : this(new Node(null, 0, initial, null), 1)
    {
    }

    private IntervalMap(Node root, long nodesAllocated)
    {
        this.root = root;
        NodesAllocated = nodesAllocated;
    }

    public int RunCount => root.Size;

    /// <summary>Tree nodes allocated by every update that led to this map: the work those updates did.</summary>
    public long NodesAllocated { get; }

    public TValue this[ulong key] => Lookup(key).Value;

    /// <summary>The value at <paramref name="key"/> and the first key after its run (ulong.MaxValue for the last run).</summary>
    public (TValue Value, ulong RunEnd) Lookup(ulong key)
    {
        Node? floor = null;
        ulong runEnd = ulong.MaxValue;
        for (var n = root; n is not null;)
        {
            if (n.Key <= key)
            {
                floor = n;
                n = n.Right;
            }
            else
            {
                runEnd = n.Key;
                n = n.Left;
            }
        }

        // Key 0 is always a run start, so every key has a floor.
        return (floor!.Value, runEnd);
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
        ulong from = start;
        var (value, runEnd) = Lookup(start);
        while (from < end)
        {
            yield return (from, Math.Min(end, runEnd), value);
            if (runEnd == ulong.MaxValue)
            {
                yield break;
            }

            from = runEnd;
            (value, runEnd) = Lookup(from);
        }
    }

    /// <summary>A new map with [start, end) set to <paramref name="value"/>, adjacent equal runs merged.</summary>
    public IntervalMap<TValue> With(ulong start, ulong end, TValue value)
    {
        if (start >= end)
        {
            return this;
        }

        var edit = new Edit();
        TValue valueAtEnd = Lookup(end).Value;
        var (below, rest) = edit.Split(root, start);
        var (_, above) = edit.Split(rest, end);
        if (above is not null && edit.First(above).Key == end)
        {
            above = edit.RemoveFirst(above);
        }

        // The run before start, or the old value at end, may already be the new value: then no boundary stands there.
        var tree = below is not null && edit.Last(below).Value.Equals(value) ? below : edit.Join(below, start, value, null);
        tree = end == ulong.MaxValue || valueAtEnd.Equals(value) ? edit.Join2(tree, above) : edit.Join(tree, end, valueAtEnd, above);
        return new IntervalMap<TValue>(tree!, NodesAllocated + edit.Allocated);
    }
}
