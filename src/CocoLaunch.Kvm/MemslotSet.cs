using System.Collections.Immutable;

namespace CocoLaunch.Kvm;

/// <summary>
/// An immutable generation of the VM's memslots, read without locks by faults (KVM's SRCU-protected
/// memslots). Updates are O(log n), so filling all 32764 slots stays cheap.
/// </summary>
internal sealed class MemslotSet
{
    public static readonly MemslotSet Empty = new(ImmutableDictionary<int, Memslot>.Empty, [ImmutableList<Memslot>.Empty, ImmutableList<Memslot>.Empty], 0);

    private static readonly Comparer<Memslot> ByBaseGfn = Comparer<Memslot>.Create((a, b) => a.BaseGfn.CompareTo(b.BaseGfn));

    private readonly ImmutableDictionary<int, Memslot> byKey;

    // Per address space, sorted by base GFN. Faults use address space 0; SMM (1) is kept for overlap checks.
    private readonly ImmutableList<Memslot>[] byGfn;

    private MemslotSet(ImmutableDictionary<int, Memslot> byKey, ImmutableList<Memslot>[] byGfn, ulong totalPages)
    {
        this.byKey = byKey;
        this.byGfn = byGfn;
        TotalPages = totalPages;
    }

    public IReadOnlyList<Memslot> All => [.. byGfn[0], .. byGfn[1]];

    public int Count => byKey.Count;

    public ulong TotalPages { get; }

    public Memslot? Get(int addressSpace, int id) => byKey.GetValueOrDefault(Key(addressSpace, id));

    /// <summary>The slot of address space 0 holding <paramref name="gfn"/>.</summary>
    public Memslot? Find(ulong gfn) => Floor(byGfn[0], gfn) is { } s && s.Contains(gfn) ? s : null;

    /// <summary>A slot of the address space overlapping [base, end), other than <paramref name="except"/>.</summary>
    public Memslot? Overlapping(int addressSpace, ulong baseGfn, ulong endGfn, Memslot? except) =>
        OverlappingIn(byGfn[addressSpace], baseGfn, endGfn).FirstOrDefault(s => s != except);

    /// <summary>Every slot of either address space overlapping [start, end).</summary>
    public IEnumerable<Memslot> OverlappingRange(ulong startGfn, ulong endGfn) =>
        byGfn.SelectMany(list => OverlappingIn(list, startGfn, endGfn));

    // Slots of one address space never overlap, so those overlapping a range start at the floor of its start:
    // the cost is the slots found, not the slots that exist.
    private static IEnumerable<Memslot> OverlappingIn(ImmutableList<Memslot> list, ulong startGfn, ulong endGfn)
    {
        for (int i = Math.Max(0, FloorIndex(list, startGfn)); i < list.Count && list[i].BaseGfn < endGfn; i++)
        {
            if (startGfn < list[i].EndGfn)
            {
                yield return list[i];
            }
        }
    }

    public MemslotSet Replace(Memslot? old, Memslot? replacement)
    {
        var keys = byKey;
        var lists = (ImmutableList<Memslot>[])byGfn.Clone();
        ulong total = TotalPages;
        if (old is not null)
        {
            keys = keys.Remove(Key(old.AddressSpace, old.Id));
            lists[old.AddressSpace] = lists[old.AddressSpace].Remove(old);
            total -= old.NPages;
        }

        if (replacement is not null)
        {
            keys = keys.SetItem(Key(replacement.AddressSpace, replacement.Id), replacement);
            var list = lists[replacement.AddressSpace];
            int at = list.BinarySearch(replacement, ByBaseGfn);
            lists[replacement.AddressSpace] = list.Insert(at < 0 ? ~at : at, replacement);
            total += replacement.NPages;
        }

        return new MemslotSet(keys, lists, total);
    }

    private static int Key(int addressSpace, int id) => (addressSpace << 16) | id;

    private static Memslot? Floor(ImmutableList<Memslot> list, ulong gfn) => FloorIndex(list, gfn) is >= 0 and var i ? list[i] : null;

    /// <summary>Index of the last slot whose base GFN is at most <paramref name="gfn"/>, or −1.</summary>
    private static int FloorIndex(ImmutableList<Memslot> list, ulong gfn)
    {
        int lo = 0, hi = list.Count - 1, found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (list[mid].BaseGfn <= gfn)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return found;
    }
}
