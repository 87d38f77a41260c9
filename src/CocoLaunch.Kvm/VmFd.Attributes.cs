using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm.Mmu;

namespace CocoLaunch.Kvm;

public sealed partial class VmFd
{
    /// <summary>The attributes of one GFN (all GFNs start shared).</summary>
    /// <remarks>With in-place conversion, privacy lives in the guest_memfd: a GFN is private while the guest owns its page.</remarks>
    public KvmMemoryAttributes AttributesOf(ulong gfn)
    {
        if (Kvm.Profile.GmemInPlaceConversion)
        {
            return slots.Find(gfn) is { GuestMemfd: { } gmem } slot && gmem.IsPrivatePage(slot.GuestMemfdPgoff + (gfn - slot.BaseGfn))
                ? KvmMemoryAttributes.Private
                : KvmMemoryAttributes.None;
        }

        return (KvmMemoryAttributes)attributes[gfn];
    }

    /// <summary>
    /// KVM_SET_MEMORY_ATTRIBUTES: all or nothing. Mappings in the range that the change makes wrong
    /// are zapped first, and hugepage eligibility is recomputed after (kvm-memory-model.md §4).
    /// </summary>
    public void SetMemoryAttributes(KvmMemoryAttributesArgs args)
    {
        ThrowIfDead();
        var supported = Type.HasPrivateMemory() && !Kvm.Profile.GmemInPlaceConversion ? KvmMemoryAttributes.Private : KvmMemoryAttributes.None;
        if (args.Flags != 0)
        {
            throw new KvmException(Errno.EINVAL, $"KVM_SET_MEMORY_ATTRIBUTES flags 0x{args.Flags:x} must be 0");
        }

        if ((args.Attributes & ~supported) != 0)
        {
            throw new KvmException(Errno.EINVAL, $"attributes 0x{(ulong)args.Attributes:x} are not supported by this VM");
        }

        if (args.Size == 0 || args.Address + args.Size <= args.Address)
        {
            throw new KvmException(Errno.EINVAL, $"attribute range at 0x{args.Address:x} of size 0x{args.Size:x} is empty or wraps");
        }

        if (args.Address % Page != 0 || args.Size % Page != 0)
        {
            throw new KvmException(Errno.EINVAL, $"attribute range at 0x{args.Address:x} of size 0x{args.Size:x} is not page aligned");
        }

        ulong start = args.Address / Page;
        ulong end = start + (args.Size / Page);
        lock (slotsLock)
        {
            ulong value = (ulong)args.Attributes;
            if (attributes.IsUniform(start, end, value))
            {
                return;
            }

            bool toPrivate = args.Attributes.HasFlag(KvmMemoryAttributes.Private);
            Mmu.MmuLock.EnterWriteLock();
            try
            {
                // Going private, the shared mappings become wrong, and going shared the private ones. A huge
                // leaf straddling the range goes whole, which also covers the head and tail hugepages.
                Mmu.ZapLocked(start, end - start, zapPrivate: !toPrivate, zapShared: toPrivate);
                attributes = attributes.With(start, end, value);
                foreach (var slot in slots.OverlappingRange(start, end))
                {
                    RecomputeMixed(slot, Math.Max(start, slot.BaseGfn), Math.Min(end, slot.EndGfn));
                }
            }
            finally
            {
                Mmu.MmuLock.ExitWriteLock();
            }
        }
    }

    /// <summary>Recomputes the MIXED bit of every 2M and 1G hugepage of the slot that overlaps [start, end).</summary>
    private void RecomputeMixed(Memslot slot, ulong start, ulong end)
    {
        var map = attributes;
        foreach (var level in new[] { PageLevel.Size2M, PageLevel.Size1G })
        {
            var info = slot.Lpage(level);
            ulong frames = level.Frames();
            for (ulong index = info.IndexOf(start); index <= info.IndexOf(end - 1); index++)
            {
                ulong first = info.FirstGfnOf(index);
                info.SetMixed(index, !map.IsUniform(first, first + frames, map[first]));
            }
        }
    }
}
