using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm.Mmu;
using CocoLaunch.Memory;

namespace CocoLaunch.Kvm;

public sealed partial class VmFd
{
    // kvm->mmu_invalidate_in_progress: guest_memfd invalidations between their begin and end.
    private int mmuInvalidateInProgress;

    /// <summary><c>kvm_mmu_invalidate_begin</c>: from now until the matching end, faults retry.</summary>
    internal void BeginMmuInvalidate() => Interlocked.Increment(ref mmuInvalidateInProgress);

    /// <summary><c>kvm_mmu_invalidate_end</c>.</summary>
    internal void EndMmuInvalidate() => Interlocked.Decrement(ref mmuInvalidateInProgress);

    /// <summary>
    /// One stage-2 fault (<c>kvm_tdp_page_fault</c>): find the slot, check the access against the memory
    /// attributes, find the backing, pick the level (§6), install the leaf. A 4K fault may map a run of up to
    /// <paramref name="maxFrames"/> frames inside one 2M region at once — the same leaves one fault per page
    /// would install, in one pass.
    /// </summary>
    /// <param name="exactRange">With <see cref="PreFaultPolicy.ExactRange"/>, the GFN range no leaf may leave.</param>
    internal FaultOutcome Fault(ulong gfn, ulong maxFrames, bool isPrivate, bool prefetch, (ulong Start, ulong End)? exactRange = null)
    {
        Mmu.MmuLock.EnterReadLock();
        try
        {
            if (Volatile.Read(ref mmuInvalidateInProgress) != 0)
            {
                // A guest_memfd conversion has zapped, or is about to zap, and has not stored the new state yet: a
                // fault now would map the old one (mmu_invalidate_retry_gfn).
                return FaultOutcome.Retry;
            }

            var slot = slots.Find(gfn);
            if (slot is null && isPrivate)
            {
                // A private fault never becomes MMIO: with no guest_memfd slot left, userspace must act.
                return FaultOutcome.Failed(Errno.EFAULT, new MemoryFault(new Gpa(gfn * Page), Page, KvmMemoryExitFlags.Private), $"private access to gfn 0x{gfn:x}, which has no memslot");
            }

            if (slot is null)
            {
                return FaultOutcome.NoSlot;
            }

            if (slot.Invalid)
            {
                return FaultOutcome.SlotInvalid;
            }

            var gpa = new Gpa(gfn * Page);
            var (_, attrRunEnd) = attributes.Lookup(gfn);
            bool attrPrivate = Type.HasPrivateMemory() && AttributesOf(gfn).HasFlag(KvmMemoryAttributes.Private);
            if (Kvm.Profile.GmemInPlaceConversion)
            {
                attrRunEnd = gfn + 1; // privacy is per guest_memfd page: map one page per fault
            }
            if (Type.HasPrivateMemory() && isPrivate != attrPrivate)
            {
                return FaultOutcome.Failed(Errno.EFAULT, new MemoryFault(gpa, Page, isPrivate ? KvmMemoryExitFlags.Private : 0), $"{(isPrivate ? "private" : "shared")} access to a {(attrPrivate ? "private" : "shared")} GFN");
            }

            var backing = ResolveBacking(slot, gfn, isPrivate, gpa, maxFrames, out var failure);
            if (backing is null)
            {
                return failure;
            }

            var level = MaxLevel(slot, gfn, isPrivate, backing.Value.Level);
            if (exactRange is var (start, end))
            {
                while (level > PageLevel.Size4K && !LeafInside(gfn, level, start, end))
                {
                    level--;
                }
            }

            if (isPrivate && level > PageLevel.Size4K)
            {
                // The vendor prepares the folio first and then caps the leaf (SNP: by the RMP entry it made), as
                // kvm_gmem_get_pfn runs the prepare hook before the mapping level is chosen.
                var vendorMax = PrivateMemoryPrepare?.PrepareFolio(this, gfn, level) ?? VendorPrivateMaxLevel;
                level = level < vendorMax ? level : vendorMax;
            }

            var table = Mmu.Table(isPrivate);
            if (level == PageLevel.Size4K)
            {
                ulong regionEnd = (gfn | (PageLevel.Size2M.Frames() - 1)) + 1;
                ulong count = Math.Min(Math.Min(backing.Value.Run, regionEnd - gfn), Math.Min(slot.EndGfn, attrRunEnd) - gfn);
                backing.Value.Allocate?.Invoke(gfn, count);
                if (isPrivate)
                {
                    PrivateMemoryPrepare?.Prepare(this, gfn, count, level);
                }
                return FaultOutcome.Mapped(table.Map4KRun(gfn, count, accessed: !prefetch));
            }

            ulong leafGfn = gfn & ~(level.Frames() - 1);
            backing.Value.Allocate?.Invoke(leafGfn, level.Frames());
            if (isPrivate)
            {
                PrivateMemoryPrepare?.Prepare(this, leafGfn, level.Frames(), level);
            }
            var installed = table.Map(leafGfn, level, accessed: !prefetch);
            return FaultOutcome.Mapped(installed.Frames() - (gfn & (installed.Frames() - 1)));
        }
        catch (HostMemoryLimitException e)
        {
            // kvm_gmem_get_pfn could not allocate the folio: the fault fails with its ENOMEM and a memory-fault exit.
            return FaultOutcome.Failed(Errno.ENOMEM, new MemoryFault(new Gpa(gfn * Page), Page, isPrivate ? KvmMemoryExitFlags.Private : 0), e.Message);
        }
        finally
        {
            Mmu.MmuLock.ExitReadLock();
        }
    }

    /// <summary>The bytes behind a GFN, for tests that set up or inspect guest memory behind the guest's back.</summary>
    public IGuestPageBacking BackingStoreForTests(ulong gfn, bool isPrivate) => BackingStore(gfn, isPrivate);

    /// <summary>The bytes behind a GFN that the guest just faulted in, for the access that follows.</summary>
    internal IGuestPageBacking BackingStore(ulong gfn, bool isPrivate)
    {
        var slot = slots.Find(gfn) ?? throw new InvalidOperationException($"gfn 0x{gfn:x} has no memslot");
        return isPrivate || slot.IsGmemOnly
            ? new GmemBacking(slot)
            : new HostBacking(Kvm.Host, slot);
    }

    private sealed class GmemBacking(Memslot slot) : IGuestPageBacking
    {
        public void Read(ulong gpa, Span<byte> destination) => slot.GuestMemfd!.Pages.Read(Offset(gpa), destination);

        public void Write(ulong gpa, ReadOnlySpan<byte> source) => slot.GuestMemfd!.Pages.Write(Offset(gpa), source);

        private ulong Offset(ulong gpa) => ((slot.GuestMemfdPgoff - slot.BaseGfn) * Page) + gpa;
    }

    private sealed class HostBacking(Memory.HostAddressSpace host, Memslot slot) : IGuestPageBacking
    {
        public void Read(ulong gpa, Span<byte> destination) => host.Read(Hva(gpa), destination);

        public void Write(ulong gpa, ReadOnlySpan<byte> source) => host.Write(Hva(gpa), source);

        private Memory.Hva Hva(ulong gpa) => slot.HostAddress(gpa);
    }

    private static bool LeafInside(ulong gfn, PageLevel level, ulong start, ulong end)
    {
        ulong leafStart = gfn & ~(level.Frames() - 1);
        return leafStart >= start && leafStart + level.Frames() <= end;
    }

    /// <summary>
    /// The largest level for <paramref name="gfn"/>: the slot's lpage_info (alignment, MIXED attributes),
    /// the backing's page size, and dirty logging (kvm-memory-model.md §6).
    /// </summary>
    private PageLevel MaxLevel(Memslot slot, ulong gfn, bool isPrivate, PageLevel backingLevel)
    {
        if (slot.Flags.HasFlag(KvmMemFlags.LogDirtyPages) && !slot.BoundToGmem)
        {
            return PageLevel.Size4K;
        }

        var level = slot.Lpage1G.Allows(gfn) ? PageLevel.Size1G : slot.Lpage2M.Allows(gfn) ? PageLevel.Size2M : PageLevel.Size4K;
        level = level < backingLevel ? level : backingLevel;
        if (Kvm.Profile.GmemInPlaceConversion && slot.GuestMemfd is { } gmem)
        {
            // In place, privacy is per guest_memfd page, not a VM attribute lpage_info tracks: a leaf must not span both.
            while (level > PageLevel.Size4K && !gmem.IsUniform(slot.GuestMemfdPgoff + ((gfn & ~(level.Frames() - 1)) - slot.BaseGfn), level.Frames(), isPrivate))
            {
                level--;
            }
        }

        return level;
    }

    /// <summary>
    /// Whether every GFN of [gfn, gfn + count) lies in one memslot and is private (the VM attribute, or the guest_memfd
    /// page's state when converting in place).
    /// </summary>
    public bool IsUniformlyPrivate(ulong gfn, ulong count)
    {
        if (slots.Find(gfn) is not { } slot || gfn + count > slot.EndGfn)
        {
            return false;
        }

        if (Kvm.Profile.GmemInPlaceConversion)
        {
            return slot.GuestMemfd is { } gmem && gmem.IsUniform(slot.GuestMemfdPgoff + (gfn - slot.BaseGfn), count, isPrivate: true);
        }

        return attributes.IsUniform(gfn, gfn + count, (ulong)KvmMemoryAttributes.Private);
    }

    /// <summary>
    /// What backs the faulting page: the largest level that backing allows, how to make it exist, and how many
    /// frames from <paramref name="gfn"/> (up to <paramref name="maxFrames"/>) the same answer holds for — a 4K
    /// run never reaches a poisoned or absent page, which must fault on its own.
    /// </summary>
    private (PageLevel Level, Action<ulong, ulong>? Allocate, ulong Run)? ResolveBacking(Memslot slot, ulong gfn, bool isPrivate, Gpa gpa, ulong maxFrames, out FaultOutcome failure)
    {
        failure = default;
        if (isPrivate || slot.IsGmemOnly)
        {
            var flags = isPrivate ? KvmMemoryExitFlags.Private : 0;
            if (!slot.BoundToGmem)
            {
                failure = FaultOutcome.Failed(Errno.EFAULT, new MemoryFault(gpa, Page, flags), $"private access to {slot}, which has no guest_memfd");
                return null;
            }

            var gmem = slot.GuestMemfd;
            if (gmem is null || gmem.IsClosed)
            {
                failure = FaultOutcome.Failed(Errno.EFAULT, new MemoryFault(gpa, Page, flags), $"the guest_memfd of {slot} was closed");
                return null;
            }

            ulong pgoff = slot.GuestMemfdPgoff + (gfn - slot.BaseGfn);
            if (gmem.IsPoisoned(pgoff))
            {
                failure = FaultOutcome.Failed(Errno.EHWPOISON, new MemoryFault(gpa, Page, flags), $"guest_memfd page {pgoff} is poisoned");
                return null;
            }

            var level = PageLevels.FromBytes(Kvm.Profile.GmemFolioSize);
            ulong delta = slot.GuestMemfdPgoff - slot.BaseGfn;
            return (level, (first, count) => gmem.Pages.AllocateRange(first + delta, count), gmem.HealthyRun(pgoff, maxFrames));
        }

        var hva = slot.HostAddress(gfn * Page);
        var region = Kvm.Host.Find(hva);
        if (region is null)
        {
            failure = FaultOutcome.Failed(Errno.EFAULT, null, $"{slot}: userspace address is not mapped");
            return null;
        }

        ulong hostPage = (hva.Value - region.Start.Value) / Page;
        if (!region.IsPresent(hostPage) && slot.AbsentMappingFault)
        {
            failure = FaultOutcome.Failed(Errno.EFAULT, new MemoryFault(gpa, Page, KvmMemoryExitFlags.AbsentMapping), $"host page of gpa {gpa} is absent");
            return null;
        }

        // A read fault of anonymous memory maps the shared zero page: nothing to allocate.
        ulong run = slot.AbsentMappingFault ? region.PresentRun(hostPage, maxFrames) : maxFrames;
        return (PageLevels.FromBytes(region.BackingPageSize), null, run);
    }
}

/// <summary>Where a mapped guest page's bytes live: a guest_memfd page or the VMM's host memory.</summary>
public interface IGuestPageBacking
{
    void Read(ulong gpa, Span<byte> destination);

    void Write(ulong gpa, ReadOnlySpan<byte> source);
}
