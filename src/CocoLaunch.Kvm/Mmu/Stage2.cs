using System.Text;
using CocoLaunch.Abi;

namespace CocoLaunch.Kvm.Mmu;

/// <summary>KVM's binary stats for the stage-2 MMU: leaf counts per level, private and shared together.</summary>
public sealed record MmuStats(long Pages4K, long Pages2M, long Pages1G)
{
    public override string ToString() => $"pages_4k: {Pages4K}\npages_2m: {Pages2M}\npages_1g: {Pages1G}";
}

/// <summary>A run of equal adjacent leaves, for the stage-2 dump.</summary>
public sealed record MappedRange(Gpa Start, Gpa End, PageLevel Level, bool Private, long Leaves)
{
    public override string ToString() =>
        $"[{Start},{End}) {Level.Name()} x{Leaves} {(Private ? "private" : "shared")}";
}

/// <summary>
/// A VM's stage-2 translation: a private table (TDX Secure-EPT; private NPT/EPT leaves for SNP and
/// SW_PROTECTED) and a shared table (TDX shared EPT, reached through the shared GPA bit; ordinary leaves
/// elsewhere). A GFN is never mapped in both — the property tests check it.
/// </summary>
public sealed class Stage2
{
    internal PageTable Private { get; } = new();

    internal PageTable Shared { get; } = new();

    /// <summary>mmu_lock: faults take it for read (and run concurrently), invalidations for write.</summary>
    internal MmuLock MmuLock { get; } = new();

    internal PageTable Table(bool isPrivate) => isPrivate ? Private : Shared;

    /// <summary><c>kvm_mmu_max_gfn()</c>: the largest GFN the tables map (a 52-bit guest-physical space).</summary>
    public static ulong MaxGfn => ((ulong)PageTable.RootEntries << 27) - 1;

    public MmuStats Stats
    {
        get
        {
            var p = Private.Count();
            var s = Shared.Count();
            return new MmuStats(p.Pages4K + s.Pages4K, p.Pages2M + s.Pages2M, p.Pages1G + s.Pages1G);
        }
    }

    /// <summary>
    /// A guest access's Accessed bit, under mmu_lock for read: a zap (write side) cannot run between finding the leaf
    /// and setting the bit, which before this let a vCPU bring back a 4K leaf just zapped by a conversion or a memslot
    /// deletion on another thread (KvmApiSequenceTests' concurrent sequences found it).
    /// </summary>
    internal void MarkAccessed(ulong gfn, bool isPrivate)
    {
        MmuLock.EnterReadLock();
        try
        {
            Table(isPrivate).MarkAccessed(gfn);
        }
        finally
        {
            MmuLock.ExitReadLock();
        }
    }

    /// <summary>The leaf mapping <paramref name="gfn"/>, and whether it is private.</summary>
    public (Stage2Leaf Leaf, bool Private)? Lookup(ulong gfn) =>
        Private.Lookup(gfn) is { } p ? (p, true) : Shared.Lookup(gfn) is { } s ? (s, false) : null;

    /// <summary>
    /// Told of every zap of the private view (gfn, count) under mmu_lock: TDX removes the pages from the
    /// Secure EPT (TDH.MEM.PAGE.REMOVE), as KVM's zap does.
    /// </summary>
    internal Action<ulong, ulong>? PrivateZapped { get; set; }

    /// <summary>Moves on every zap: a vCPU whose CPU caches host page pointers flushes them when it changed.</summary>
    internal long Generation => Volatile.Read(ref generation);

    private long generation;

    /// <summary>Removes mappings overlapping [gfn, gfn + count) from the chosen views.</summary>
    internal void Zap(ulong gfn, ulong count, bool zapPrivate = true, bool zapShared = true)
    {
        MmuLock.EnterWriteLock();
        try
        {
            ZapLocked(gfn, count, zapPrivate, zapShared);
        }
        finally
        {
            MmuLock.ExitWriteLock();
        }
    }

    /// <summary><see cref="Zap"/> for a caller that already holds mmu_lock for write.</summary>
    internal void ZapLocked(ulong gfn, ulong count, bool zapPrivate, bool zapShared)
    {
        if (zapPrivate)
        {
            Private.Zap(gfn, count);
            PrivateZapped?.Invoke(gfn, count);
        }

        if (zapShared)
        {
            Shared.Zap(gfn, count);
        }

        Interlocked.Increment(ref generation);
    }

    internal void ZapAll() => Zap(0, 1UL << 40);

    /// <summary>
    /// Removes private leaves overlapping [gfn, gfn + count) so that they fault in again at a smaller level, without
    /// telling the vendor: the pages stay the guest's (SNP after a PSMASH of their 2M RMP entry).
    /// </summary>
    internal void DemotePrivate(ulong gfn, ulong count)
    {
        MmuLock.EnterWriteLock();
        try
        {
            Private.Zap(gfn, count);
            Interlocked.Increment(ref generation);
        }
        finally
        {
            MmuLock.ExitWriteLock();
        }
    }

    /// <summary>
    /// TDX's shared EPT is reached through GPAs with this bit set; the dump shows shared leaves at that alias,
    /// as the hardware sees them. Null for platforms with one GPA space.
    /// </summary>
    public int? SharedAliasBit { get; set; }

    /// <summary>Mapped ranges in GPA order, adjacent leaves of one level and view merged.</summary>
    public IReadOnlyList<MappedRange> Dump()
    {
        ulong alias = SharedAliasBit is int bit ? (1UL << bit) / PageSize.Size4K : 0;
        var leaves = Private.Leaves().Select(l => (Leaf: l, Private: true))
            .Concat(Shared.Leaves().Select(l => (Leaf: l with { Gfn = l.Gfn | alias }, Private: false)))
            .OrderBy(x => x.Leaf.Gfn);
        var ranges = new List<MappedRange>();
        foreach (var (leaf, isPrivate) in leaves)
        {
            var start = new Gpa(leaf.Gfn * PageSize.Size4K);
            var end = new Gpa(start.Value + leaf.Level.Bytes());
            if (ranges.Count > 0 && ranges[^1] is var last && last.End == start && last.Level == leaf.Level && last.Private == isPrivate)
            {
                ranges[^1] = last with { End = end, Leaves = last.Leaves + 1 };
            }
            else
            {
                ranges.Add(new MappedRange(start, end, leaf.Level, isPrivate, 1));
            }
        }

        return ranges;
    }

    public string DumpText()
    {
        var text = new StringBuilder();
        text.AppendLine(Stats.ToString());
        foreach (var range in Dump())
        {
            text.AppendLine(range.ToString());
        }

        return text.ToString();
    }
}
