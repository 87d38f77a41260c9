using System.Numerics;

namespace CocoLaunch.Kvm.Mmu;

/// <summary>One stage-2 leaf as the walker reports it.</summary>
public readonly record struct Stage2Leaf(ulong Gfn, PageLevel Level, bool Accessed);

/// <summary>
/// A stage-2 page table (EPT, NPT or TDX Secure-EPT) with 4K, 2M and 1G leaves, laid out like the
/// hardware radix tree: root → 1G directory → 2M directory → 4K table.
/// </summary>
/// <remarks>
/// Faults install leaves concurrently without locks (compare-and-swap on directory slots, atomic OR
/// on 4K bitmaps), as KVM's TDP MMU does under mmu_lock held for read; zapping runs exclusively
/// (the caller holds the write side). A 4K table is two 512-bit bitmaps (present, accessed) — well
/// under a byte of model memory per mapped 4K page.
/// </remarks>
internal sealed class PageTable
{
    /// <summary>Root entries of 512 GiB each: enough for a 52-bit guest-physical space.</summary>
    public const int RootEntries = 1 << 13;

    private const int Fanout = 512;
    private const int Shift2M = 9;
    private const int Shift1G = 18;
    private const int ShiftRoot = 27;

    private readonly Directory?[] roots = new Directory?[RootEntries];

    /// <summary>Installs a leaf at <paramref name="level"/> for aligned <paramref name="gfn"/>, unless a leaf already covers it.</summary>
    /// <returns>The level of the leaf covering <paramref name="gfn"/> afterwards.</returns>
    public PageLevel Map(ulong gfn, PageLevel level, bool accessed)
    {
        var d1g = GetOrCreate(ref roots[gfn >> ShiftRoot]);
        ref object? e1g = ref d1g.Entries[(gfn >> Shift1G) & (Fanout - 1)];
        if (level == PageLevel.Size1G)
        {
            return InstallHuge(ref e1g, PageLevel.Size1G, accessed);
        }

        if (Volatile.Read(ref e1g) is HugeLeaf)
        {
            return PageLevel.Size1G;
        }

        var d2m = GetOrCreate(ref e1g, out var covering);
        if (d2m is null)
        {
            return covering;
        }

        ref object? e2m = ref d2m.Entries[(gfn >> Shift2M) & (Fanout - 1)];
        if (level == PageLevel.Size2M)
        {
            return InstallHuge(ref e2m, PageLevel.Size2M, accessed);
        }

        var table = GetOrCreateTable(ref e2m, out covering);
        if (table is null)
        {
            return covering;
        }

        table.Set((int)(gfn & (Fanout - 1)), 1, accessed);
        return PageLevel.Size4K;
    }

    /// <summary>Maps <paramref name="count"/> 4K frames from <paramref name="gfn"/>, all inside one 2M region.</summary>
    /// <returns>Frames consumed: up to the end of a larger leaf if one already covers <paramref name="gfn"/>.</returns>
    public ulong Map4KRun(ulong gfn, ulong count, bool accessed)
    {
        var d1g = GetOrCreate(ref roots[gfn >> ShiftRoot]);
        ref object? e1g = ref d1g.Entries[(gfn >> Shift1G) & (Fanout - 1)];
        var d2m = GetOrCreate(ref e1g, out var covering);
        if (d2m is null)
        {
            return covering.Frames() - (gfn & (covering.Frames() - 1));
        }

        var table = GetOrCreateTable(ref d2m.Entries[(gfn >> Shift2M) & (Fanout - 1)], out covering);
        if (table is null)
        {
            return covering.Frames() - (gfn & (covering.Frames() - 1));
        }

        table.Set((int)(gfn & (Fanout - 1)), (int)count, accessed);
        return count;
    }

    public Stage2Leaf? Lookup(ulong gfn)
    {
        if (Volatile.Read(ref roots[gfn >> ShiftRoot]) is not { } d1g)
        {
            return null;
        }

        switch (Volatile.Read(ref d1g.Entries[(gfn >> Shift1G) & (Fanout - 1)]))
        {
            case HugeLeaf h:
                return new Stage2Leaf(gfn & ~(PageLevel.Size1G.Frames() - 1), PageLevel.Size1G, h.Accessed);
            case Directory d2m:
                switch (Volatile.Read(ref d2m.Entries[(gfn >> Shift2M) & (Fanout - 1)]))
                {
                    case HugeLeaf h:
                        return new Stage2Leaf(gfn & ~(PageLevel.Size2M.Frames() - 1), PageLevel.Size2M, h.Accessed);
                    case Table t when t.IsPresent((int)(gfn & (Fanout - 1))):
                        return new Stage2Leaf(gfn, PageLevel.Size4K, t.IsAccessed((int)(gfn & (Fanout - 1))));
                }

                break;
        }

        return null;
    }

    /// <summary>
    /// Sets the Accessed bit, as a guest access through the leaf would; never the present bit, so a leaf zapped since
    /// the caller looked does not come back. Callers hold mmu_lock for read (<see cref="Stage2.MarkAccessed"/>).
    /// </summary>
    public void MarkAccessed(ulong gfn)
    {
        if (Lookup(gfn) is not { } leaf)
        {
            return;
        }

        var d1g = roots[gfn >> ShiftRoot]!;
        var e1g = d1g.Entries[(gfn >> Shift1G) & (Fanout - 1)];
        if (e1g is HugeLeaf h1)
        {
            h1.Accessed = true;
            return;
        }

        var e2m = ((Directory)e1g!).Entries[(gfn >> Shift2M) & (Fanout - 1)];
        if (e2m is HugeLeaf h2)
        {
            h2.Accessed = true;
        }
        else if (leaf.Level == PageLevel.Size4K)
        {
            ((Table)e2m!).SetAccessed((int)(gfn & (Fanout - 1)));
        }
    }

    /// <summary>Removes every leaf overlapping [gfn, gfn + count); a huge leaf that straddles the range goes whole.</summary>
    /// <remarks>Callers must exclude concurrent <see cref="Map"/> calls (KVM holds mmu_lock for write).</remarks>
    public void Zap(ulong gfn, ulong count)
    {
        // tdp_mmu_zap_leafs: end = min(end, tdp_mmu_max_gfn_exclusive()); nothing is mapped above the table.
        ulong end = Math.Min(gfn + count, (ulong)RootEntries << ShiftRoot);
        for (ulong g = gfn; g < end;)
        {
            var d1g = roots[g >> ShiftRoot];
            if (d1g is null)
            {
                g = Next(g, ShiftRoot);
                continue;
            }

            ref object? e1g = ref d1g.Entries[(g >> Shift1G) & (Fanout - 1)];
            if (e1g is not Directory d2m)
            {
                e1g = null;
                g = Next(g, Shift1G);
                continue;
            }

            ref object? e2m = ref d2m.Entries[(g >> Shift2M) & (Fanout - 1)];
            if (e2m is Table t)
            {
                ulong regionEnd = Math.Min(end, Next(g, Shift2M));
                t.Clear((int)(g & (Fanout - 1)), (int)(regionEnd - g));
                g = regionEnd;
            }
            else
            {
                e2m = null;
                g = Next(g, Shift2M);
            }
        }
    }

    /// <summary>Leaves in ascending GFN order, starting at the leaf covering <paramref name="fromGfn"/>.</summary>
    public IEnumerable<Stage2Leaf> Leaves(ulong fromGfn = 0, ulong toGfn = ulong.MaxValue)
    {
        for (ulong r = fromGfn >> ShiftRoot; r < RootEntries; r++)
        {
            if (roots[r] is not { } d1g)
            {
                continue;
            }

            for (int i = 0; i < Fanout; i++)
            {
                ulong base1g = (r << ShiftRoot) | ((ulong)i << Shift1G);
                if (base1g >= toGfn)
                {
                    yield break;
                }

                if (base1g + PageLevel.Size1G.Frames() <= fromGfn)
                {
                    continue;
                }

                switch (d1g.Entries[i])
                {
                    case HugeLeaf h:
                        yield return new Stage2Leaf(base1g, PageLevel.Size1G, h.Accessed);
                        break;
                    case Directory d2m:
                        foreach (var leaf in Leaves2M(d2m, base1g, fromGfn, toGfn))
                        {
                            yield return leaf;
                        }

                        break;
                }
            }
        }
    }

    /// <summary>Leaf counts per level, like KVM's pages_4k / pages_2m / pages_1g statistics.</summary>
    public (long Pages4K, long Pages2M, long Pages1G) Count()
    {
        long p4k = 0, p2m = 0, p1g = 0;
        foreach (var d1g in roots)
        {
            if (d1g is null)
            {
                continue;
            }

            foreach (var e1g in d1g.Entries)
            {
                if (e1g is HugeLeaf)
                {
                    p1g++;
                }
                else if (e1g is Directory d2m)
                {
                    foreach (var e2m in d2m.Entries)
                    {
                        if (e2m is HugeLeaf)
                        {
                            p2m++;
                        }
                        else if (e2m is Table t)
                        {
                            p4k += t.PresentCount;
                        }
                    }
                }
            }
        }

        return (p4k, p2m, p1g);
    }

    /// <summary>Bytes of model memory the table uses (directories, tables and leaves), for the memory benchmark.</summary>
    public long ModelBytes()
    {
        const long ObjectHeader = 16, ArrayHeader = 24, Pointer = 8;
        const long DirectoryBytes = ObjectHeader + Pointer + ArrayHeader + Fanout * Pointer;
        const long TableBytes = ObjectHeader + (2 * (Fanout / 8));
        long bytes = ArrayHeader + (RootEntries * Pointer);
        foreach (var d1g in roots)
        {
            if (d1g is null)
            {
                continue;
            }

            bytes += DirectoryBytes;
            foreach (var e1g in d1g.Entries)
            {
                bytes += e1g switch
                {
                    HugeLeaf => ObjectHeader + Pointer,
                    Directory d2m => DirectoryBytes + d2m.Entries.Sum(e => e switch { HugeLeaf => ObjectHeader + Pointer, Table => TableBytes, _ => 0 }),
                    _ => 0,
                };
            }
        }

        return bytes;
    }

    private static IEnumerable<Stage2Leaf> Leaves2M(Directory d2m, ulong base1g, ulong fromGfn, ulong toGfn)
    {
        for (int j = 0; j < Fanout; j++)
        {
            ulong base2m = base1g | ((ulong)j << Shift2M);
            if (base2m >= toGfn)
            {
                yield break;
            }

            if (base2m + PageLevel.Size2M.Frames() <= fromGfn)
            {
                continue;
            }

            switch (d2m.Entries[j])
            {
                case HugeLeaf h:
                    yield return new Stage2Leaf(base2m, PageLevel.Size2M, h.Accessed);
                    break;
                case Table t:
                    for (int k = 0; k < Fanout; k++)
                    {
                        ulong gfn = base2m | (uint)k;
                        if (gfn >= fromGfn && gfn < toGfn && t.IsPresent(k))
                        {
                            yield return new Stage2Leaf(gfn, PageLevel.Size4K, t.IsAccessed(k));
                        }
                    }

                    break;
            }
        }
    }

    private static ulong Next(ulong gfn, int shift) => ((gfn >> shift) + 1) << shift;

    private static Directory GetOrCreate(ref Directory? slot)
    {
        var existing = Volatile.Read(ref slot);
        if (existing is not null)
        {
            return existing;
        }

        var created = new Directory();
        return Interlocked.CompareExchange(ref slot, created, null) ?? created;
    }

    /// <summary>The directory below a 1G entry, or null with the covering level when a huge leaf is there.</summary>
    private static Directory? GetOrCreate(ref object? slot, out PageLevel covering)
    {
        covering = PageLevel.Size1G;
        while (true)
        {
            switch (Volatile.Read(ref slot))
            {
                case Directory d:
                    return d;
                case HugeLeaf:
                    return null;
                case null:
                    var created = new Directory();
                    if (Interlocked.CompareExchange(ref slot, created, null) is null)
                    {
                        return created;
                    }

                    break;
            }
        }
    }

    private static Table? GetOrCreateTable(ref object? slot, out PageLevel covering)
    {
        covering = PageLevel.Size2M;
        while (true)
        {
            switch (Volatile.Read(ref slot))
            {
                case Table t:
                    return t;
                case HugeLeaf:
                    return null;
                case null:
                    var created = new Table();
                    if (Interlocked.CompareExchange(ref slot, created, null) is null)
                    {
                        return created;
                    }

                    break;
            }
        }
    }

    /// <summary>Installs a huge leaf, replacing a lower-level table (KVM frees the child table).</summary>
    private static PageLevel InstallHuge(ref object? slot, PageLevel level, bool accessed)
    {
        while (true)
        {
            var current = Volatile.Read(ref slot);
            if (current is HugeLeaf)
            {
                return level;
            }

            if (Interlocked.CompareExchange(ref slot, new HugeLeaf { Accessed = accessed }, current) == current)
            {
                return level;
            }
        }
    }

    private sealed class Directory
    {
        public readonly object?[] Entries = new object?[Fanout];
    }

    private sealed class HugeLeaf
    {
        public volatile bool Accessed;
    }

    [System.Runtime.CompilerServices.InlineArray(Fanout / 64)]
    private struct Bits512
    {
        private ulong word;
    }

    /// <summary>A 4K table: the bitmaps live inline, so a table is one object (fault-in allocates little).</summary>
    private sealed class Table
    {
        private Bits512 present;
        private Bits512 accessed;

        public int PresentCount
        {
            get
            {
                int n = 0;
                for (int i = 0; i < Fanout / 64; i++)
                {
                    n += BitOperations.PopCount(Volatile.Read(ref present[i]));
                }

                return n;
            }
        }

        public bool IsPresent(int index) => (Volatile.Read(ref present[index >> 6]) & (1UL << (index & 63))) != 0;

        public bool IsAccessed(int index) => (Volatile.Read(ref accessed[index >> 6]) & (1UL << (index & 63))) != 0;

        public void Set(int first, int count, bool markAccessed)
        {
            for (int i = first; i < first + count;)
            {
                int word = i >> 6;
                int bit = i & 63;
                int n = Math.Min(64 - bit, first + count - i);
                ulong mask = (n == 64 ? ulong.MaxValue : ((1UL << n) - 1)) << bit;
                Interlocked.Or(ref present[word], mask);
                if (markAccessed)
                {
                    Interlocked.Or(ref accessed[word], mask);
                }

                i += n;
            }
        }

        /// <summary>The Accessed bit of one present entry, leaving the present bit alone.</summary>
        public void SetAccessed(int index)
        {
            ulong mask = 1UL << (index & 63);
            if ((Volatile.Read(ref present[index >> 6]) & mask) != 0)
            {
                Interlocked.Or(ref accessed[index >> 6], mask);
            }
        }

        public void Clear(int first, int count)
        {
            for (int i = first; i < first + count;)
            {
                int word = i >> 6;
                int bit = i & 63;
                int n = Math.Min(64 - bit, first + count - i);
                ulong mask = (n == 64 ? ulong.MaxValue : ((1UL << n) - 1)) << bit;
                Interlocked.And(ref present[word], ~mask);
                Interlocked.And(ref accessed[word], ~mask);
                i += n;
            }
        }
    }
}
