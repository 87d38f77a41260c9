using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Memory;

namespace CocoLaunch.Kvm;

public sealed partial class VmFd
{
    /// <summary>TASK_SIZE_MAX with 4-level paging: access_ok() fails for user ranges above it.</summary>
    private const ulong TaskSize = 0x0000_7FFF_FFFF_F000;

    private const ulong Page = PageSize.Size4K;

    private int AddressSpaces => Type.HasPrivateMemory() ? 1 : 2;

    /// <summary>KVM_SET_USER_MEMORY_REGION: the v1 ioctl, which cannot describe a guest_memfd.</summary>
    public void SetUserMemoryRegion(KvmUserspaceMemoryRegion region)
    {
        ThrowIfDead();
        // The userfault RFC gave v1 slots bit 2 as KVM_MEM_ABSENT_MAPPING_FAULT (v1 can never mean guest_memfd).
        bool absentMapping = Kvm.Profile.AbsentMappingFault && region.Flags.HasFlag(KvmMemFlags.AbsentMappingFault);
        if (absentMapping)
        {
            region.Flags &= ~KvmMemFlags.AbsentMappingFault;
        }

        if ((region.Flags & ~(KvmMemFlags.LogDirtyPages | KvmMemFlags.Readonly)) != 0)
        {
            throw new KvmException(Errno.EINVAL, $"KVM_SET_USER_MEMORY_REGION flags 0x{(uint)region.Flags:x}: only LOG_DIRTY_PAGES and READONLY exist in v1");
        }

        SetMemoryRegion(new KvmUserspaceMemoryRegion2
        {
            Slot = region.Slot,
            Flags = region.Flags,
            GuestPhysAddr = region.GuestPhysAddr,
            MemorySize = region.MemorySize,
            UserspaceAddr = region.UserspaceAddr,
        }, absentMapping);
    }

    /// <summary>KVM_SET_USER_MEMORY_REGION2: create, delete, move or change the flags of a memslot.</summary>
    public void SetUserMemoryRegion2(KvmUserspaceMemoryRegion2 region)
    {
        ThrowIfDead();
        SetMemoryRegion(region, absentMapping: false);
    }

    /// <summary><c>__kvm_set_memory_region</c>, in the kernel's check order (kvm-memory-model.md §3).</summary>
    private void SetMemoryRegion(KvmUserspaceMemoryRegion2 r, bool absentMapping)
    {
        int id = (int)(r.Slot & 0xFFFF);
        int asId = (int)(r.Slot >> 16);
        if (id >= KvmLimits.UserMemSlots)
        {
            throw new KvmException(Errno.EINVAL, $"slot id {id} is not below KVM_USER_MEM_SLOTS ({KvmLimits.UserMemSlots})");
        }

        CheckFlags(r.Flags);
        if (r.MemorySize % Page != 0 || r.GuestPhysAddr % Page != 0 || r.UserspaceAddr % Page != 0
            || r.UserspaceAddr + r.MemorySize < r.UserspaceAddr || r.UserspaceAddr + r.MemorySize > TaskSize)
        {
            throw new KvmException(Errno.EINVAL, $"memslot gpa 0x{r.GuestPhysAddr:x} size 0x{r.MemorySize:x} uaddr 0x{r.UserspaceAddr:x} is misaligned or outside the user address space");
        }

        bool gmem = r.Flags.HasFlag(KvmMemFlags.GuestMemfd);
        if (gmem && (r.GuestMemfdOffset % Page != 0 || r.GuestMemfdOffset + r.MemorySize < r.GuestMemfdOffset))
        {
            throw new KvmException(Errno.EINVAL, $"guest_memfd offset 0x{r.GuestMemfdOffset:x} is misaligned or wraps");
        }

        if (asId >= AddressSpaces || r.GuestPhysAddr + r.MemorySize < r.GuestPhysAddr || r.MemorySize / Page > KvmLimits.MemMaxNrPages)
        {
            throw new KvmException(Errno.EINVAL, $"memslot {asId}:{id} at gpa 0x{r.GuestPhysAddr:x} size 0x{r.MemorySize:x} is out of range");
        }

        lock (slotsLock)
        {
            var old = slots.Get(asId, id);
            if (r.MemorySize == 0)
            {
                RetireSlot(old ?? throw new KvmException(Errno.EINVAL, $"memslot {asId}:{id} does not exist"));
                return;
            }

            ulong baseGfn = r.GuestPhysAddr / Page;
            ulong npages = r.MemorySize / Page;
            if (old is null)
            {
                if (slots.TotalPages + npages < slots.TotalPages)
                {
                    throw new KvmException(Errno.EINVAL, "total memslot pages overflow");
                }
            }
            else
            {
                if (gmem)
                {
                    throw new KvmException(Errno.EINVAL, $"memslot {asId}:{id} is backed by guest_memfd and can only be deleted");
                }

                if (r.UserspaceAddr != old.UserspaceAddr.Value || npages != old.NPages || ((r.Flags ^ old.Flags) & KvmMemFlags.Readonly) != 0)
                {
                    throw new KvmException(Errno.EINVAL, $"memslot {asId}:{id}: only its GPA or dirty logging may change");
                }

                if (baseGfn == old.BaseGfn && r.Flags == old.Flags)
                {
                    return;
                }
            }

            bool creatingOrMoving = old is null || baseGfn != old.BaseGfn;
            if (creatingOrMoving && slots.Overlapping(asId, baseGfn, baseGfn + npages, old) is { } clash)
            {
                throw new KvmException(Errno.EEXIST, $"gpa range [0x{r.GuestPhysAddr:x},0x{r.GuestPhysAddr + r.MemorySize:x}) overlaps {clash}");
            }

            // x86 kvm_arch_prepare_memory_region: a created or moved slot must end at or below kvm_mmu_max_gfn().
            if (creatingOrMoving && baseGfn + npages - 1 > CocoLaunch.Kvm.Mmu.Stage2.MaxGfn)
            {
                throw new KvmException(Errno.EINVAL, $"memslot {asId}:{id} at gpa 0x{r.GuestPhysAddr:x} size 0x{r.MemorySize:x} ends above the largest GFN 0x{CocoLaunch.Kvm.Mmu.Stage2.MaxGfn:x}");
            }

            var slot = new Memslot(id, asId, baseGfn, npages, r.Flags, new Hva(r.UserspaceAddr), null, r.GuestMemfdOffset / Page) { AbsentMappingFault = absentMapping };
            if (gmem)
            {
                var file = Kvm.Fds.Get(r.GuestMemfd) as GuestMemfd
                    ?? throw new KvmException(Errno.EINVAL, $"fd {r.GuestMemfd} is not a guest_memfd");
                file.Bind(this, r.GuestMemfdOffset, npages, new SlotInvalidation(this, slot), slot);
                slot.GuestMemfd = file;
            }

            RecomputeMixed(slot, slot.BaseGfn, slot.EndGfn);
            if (old is not null)
            {
                RetireSlot(old);
            }

            slots = slots.Replace(null, slot);
        }
    }

    private void CheckFlags(KvmMemFlags flags)
    {
        var valid = KvmMemFlags.LogDirtyPages;
        if (!Type.IsConfidential() || Type == KvmVmType.Sev)
        {
            valid |= KvmMemFlags.Readonly; // VMs with protected register state have no read-only memory
        }

        valid |= KvmMemFlags.GuestMemfd;
        if (flags.HasFlag(KvmMemFlags.GuestMemfd))
        {
            valid &= ~(KvmMemFlags.LogDirtyPages | KvmMemFlags.Readonly);
        }

        if ((flags & ~valid) != 0)
        {
            throw new KvmException(Errno.EINVAL, $"memslot flags 0x{(uint)flags:x} are not valid here");
        }
    }

    /// <summary>Removes a slot: marks it INVALID (faults retry), zaps its mappings, releases its guest_memfd binding.</summary>
    private void RetireSlot(Memslot old)
    {
        var invalid = new Memslot(old.Id, old.AddressSpace, old.BaseGfn, old.NPages, old.Flags, old.UserspaceAddr, old.GuestMemfd, old.GuestMemfdPgoff) { Invalid = true };
        slots = slots.Replace(old, invalid);
        if (Type == KvmVmType.Default && Kvm.Profile.SlotZapAllQuirk)
        {
            Mmu.ZapAll();
        }
        else
        {
            Mmu.Zap(old.BaseGfn, old.NPages);
        }

        old.GuestMemfd?.Unbind(old);
        slots = slots.Replace(invalid, null);
    }

    /// <summary>Zaps this VM's mappings of guest_memfd pages that a hole punch, close or poison removed.</summary>
    private sealed class SlotInvalidation(VmFd vm, Memslot slot) : IGuestMemfdInvalidation
    {
        public void BeginInvalidate() => vm.BeginMmuInvalidate();

        public void EndInvalidate() => vm.EndMmuInvalidate();

        public void Invalidate(ulong firstPage, ulong count, bool privateOnly)
        {
            ulong gfn = slot.BaseGfn + (firstPage - slot.GuestMemfdPgoff);
            vm.Mmu.Zap(gfn, count, zapPrivate: true, zapShared: !privateOnly || slot.IsGmemOnly);
            if (slot.GuestMemfd is { IsClosed: true })
            {
                slot.GuestMemfd = null;
            }
        }
    }
}
