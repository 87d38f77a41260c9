using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm.Mmu;
using CocoLaunch.Memory;

namespace CocoLaunch.Kvm;

/// <summary>One memslot (<c>struct kvm_memory_slot</c>): a GFN range backed by host memory and/or a guest_memfd range.</summary>
public sealed class Memslot
{
    internal Memslot(int id, int addressSpace, ulong baseGfn, ulong npages, KvmMemFlags flags, Hva userspaceAddr, GuestMemfd? gmem, ulong gmemPgoff)
    {
        Id = id;
        AddressSpace = addressSpace;
        BaseGfn = baseGfn;
        NPages = npages;
        Flags = flags;
        UserspaceAddr = userspaceAddr;
        GuestMemfd = gmem;
        GuestMemfdPgoff = gmemPgoff;
        Lpage2M = new LpageInfo(this, PageLevel.Size2M);
        Lpage1G = new LpageInfo(this, PageLevel.Size1G);
    }

    public int Id { get; }

    public int AddressSpace { get; }

    public ulong BaseGfn { get; }

    public ulong NPages { get; }

    public KvmMemFlags Flags { get; }

    public Hva UserspaceAddr { get; }

    /// <summary>The bound guest_memfd; null when the slot has none or the file was closed.</summary>
    public GuestMemfd? GuestMemfd { get; internal set; }

    public ulong GuestMemfdPgoff { get; }

    public ulong EndGfn => BaseGfn + NPages;

    /// <summary>Set while the slot is being deleted or moved: faults on it retry (pre-fault reports EAGAIN).</summary>
    public bool Invalid { get; internal set; }

    /// <summary>KVM_MEM_ABSENT_MAPPING_FAULT (userfault RFC): an absent host page exits instead of blocking.</summary>
    public bool AbsentMappingFault { get; init; }

    /// <summary>A guest_memfd created with MMAP serves every fault in the slot, shared ones included.</summary>
    public bool IsGmemOnly => GuestMemfd is { } g && g.Flags.HasFlag(GuestMemfdFlags.Mmap);

    internal LpageInfo Lpage2M { get; }

    internal LpageInfo Lpage1G { get; }

    internal bool BoundToGmem => Flags.HasFlag(KvmMemFlags.GuestMemfd);

    public bool Contains(ulong gfn) => gfn >= BaseGfn && gfn < EndGfn;

    /// <summary>Where a guest-physical address of this slot lies in the VMM's address space (<c>__gfn_to_hva_memslot</c> plus the offset).</summary>
    public Hva HostAddress(ulong gpa) => new(UserspaceAddr.Value + gpa - (BaseGfn * Abi.PageSize.Size4K));

    internal LpageInfo Lpage(PageLevel level) => level == PageLevel.Size2M ? Lpage2M : Lpage1G;

    public override string ToString() => $"slot {AddressSpace}:{Id} gfn [0x{BaseGfn:x},0x{EndGfn:x}) flags {Flags}";
}

/// <summary>
/// Per-level hugepage eligibility of a memslot (<c>kvm_lpage_info</c>): a disallow count per potential
/// hugepage, and bit 31 when its memory attributes are mixed.
/// </summary>
internal sealed class LpageInfo
{
    public const int MixedFlag = 1 << 31;

    private readonly int[] entries;
    private readonly ulong frames;
    private readonly ulong firstIndex;

    public LpageInfo(Memslot slot, PageLevel level)
    {
        frames = level.Frames();
        firstIndex = slot.BaseGfn / frames;
        ulong lastIndex = (slot.EndGfn - 1) / frames;
        entries = new int[lastIndex - firstIndex + 1];

        // Head and tail hugepages that stick out of the slot can never be mapped huge.
        if (slot.BaseGfn % frames != 0)
        {
            entries[0]++;
        }

        if (slot.EndGfn % frames != 0)
        {
            entries[^1]++;
        }

        // Guest and host alignment must agree, or no hugepage anywhere in the slot lines up.
        if (!slot.BoundToGmem && (slot.BaseGfn ^ (slot.UserspaceAddr.Value >> 12)) % frames != 0)
        {
            for (int i = 0; i < entries.Length; i++)
            {
                entries[i]++;
            }
        }
    }

    public int Count => entries.Length;

    public ulong IndexOf(ulong gfn) => (gfn / frames) - firstIndex;

    public ulong FirstGfnOf(ulong index) => (index + firstIndex) * frames;

    public bool Allows(ulong gfn) => Volatile.Read(ref entries[IndexOf(gfn)]) == 0;

    public bool IsMixed(ulong gfn) => (Volatile.Read(ref entries[IndexOf(gfn)]) & MixedFlag) != 0;

    public void SetMixed(ulong index, bool mixed)
    {
        if (mixed)
        {
            entries[index] |= MixedFlag;
        }
        else
        {
            entries[index] &= ~MixedFlag;
        }
    }
}
