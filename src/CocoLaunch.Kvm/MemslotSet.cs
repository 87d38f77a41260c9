namespace CocoLaunch.Kvm;

/// <summary>An immutable generation of the VM's memslots, read without locks by faults (KVM's SRCU-protected memslots).</summary>
internal sealed class MemslotSet
{
    public static readonly MemslotSet Empty = new([]);

    // Address space 0, sorted by base GFN; the SMM address space is kept apart and never faulted.
    private readonly Memslot[] byGfn;

    public MemslotSet(IReadOnlyList<Memslot> slots)
    {
        All = slots;
        byGfn = slots.Where(s => s.AddressSpace == 0).OrderBy(s => s.BaseGfn).ToArray();
    }

    public IReadOnlyList<Memslot> All { get; }

    public Memslot? Get(int addressSpace, int id) => All.FirstOrDefault(s => s.AddressSpace == addressSpace && s.Id == id);

    public ulong TotalPages => All.Aggregate(0UL, (sum, s) => sum + s.NPages);

    /// <summary>The slot of address space 0 holding <paramref name="gfn"/>.</summary>
    public Memslot? Find(ulong gfn)
    {
        int lo = 0, hi = byGfn.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            var s = byGfn[mid];
            if (gfn < s.BaseGfn)
            {
                hi = mid - 1;
            }
            else if (gfn >= s.EndGfn)
            {
                lo = mid + 1;
            }
            else
            {
                return s;
            }
        }

        return null;
    }

    /// <summary>Slots of the same address space whose GFN range overlaps [base, end), other than <paramref name="except"/>.</summary>
    public Memslot? Overlapping(int addressSpace, ulong baseGfn, ulong endGfn, Memslot? except) =>
        All.FirstOrDefault(s => s != except && s.AddressSpace == addressSpace && s.BaseGfn < endGfn && baseGfn < s.EndGfn);

    public MemslotSet Replace(Memslot? old, Memslot? replacement)
    {
        var list = All.Where(s => s != old).ToList();
        if (replacement is not null)
        {
            list.Add(replacement);
        }

        return new MemslotSet(list);
    }

    public IEnumerable<Memslot> OverlappingRange(ulong startGfn, ulong endGfn) =>
        All.Where(s => s.BaseGfn < endGfn && startGfn < s.EndGfn);
}
