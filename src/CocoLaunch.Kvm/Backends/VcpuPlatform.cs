using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Cpu;
using CocoLaunch.Memory;

namespace CocoLaunch.Kvm;

/// <summary>
/// The processor's view of guest memory, through the stage-2 tables: a fault maps the page (or exits, as KVM's
/// fault path does) and the processor gets the host page behind it. The backend decides what makes an access
/// private and what the vendor checks on a private page (the TDX Secure EPT, the SNP RMP).
/// </summary>
internal sealed unsafe class VcpuPlatform(VmFd vm, VcpuBackend backend) : IPlatform
{
    private const ulong Page = PageSize.Size4K;

    public ulong ConfidentialGpaBit => backend.ConfidentialGpaBit;

    public bool InterceptsMsr(uint index, bool write) => backend.InterceptsMsr(index, write);

    public bool ConfidentialBitMeansPrivate => backend.ConfidentialBitMeansPrivate;

    public byte* RamPage(ulong gfn, bool isPrivate, bool write)
    {
        try
        {
            return MappedPage(gfn, isPrivate, write);
        }
        catch (HostMemoryLimitException)
        {
            // The host could not give the page: KVM_RUN fails with a memory-fault exit, the errno saying why
            // (ENOMEM from kvm_gmem_get_pfn for a private page, EFAULT from kvm_handle_error_pfn for a shared one).
            bool asPrivate = vm.Type.HasPrivateMemory() && backend.AccessIsPrivate(gfn, isPrivate);
            throw new PlatformStop(new KvmExit.MemoryFault(asPrivate ? Errno.ENOMEM : Errno.EFAULT, new MemoryFault(new Gpa(gfn * Page), Page, asPrivate ? KvmMemoryExitFlags.Private : 0)));
        }
    }

    private byte* MappedPage(ulong gfn, bool isPrivate, bool write)
    {
        if (!vm.Type.HasPrivateMemory())
        {
            return DefaultPage(gfn, write);
        }

        isPrivate = backend.AccessIsPrivate(gfn, isPrivate);
        var slot = vm.Slots.Find(gfn);
        if (!isPrivate && (slot is null || (write && slot.Flags.HasFlag(KvmMemFlags.Readonly))))
        {
            return null; // MMIO
        }

        if (isPrivate && slot is null && vm.Type == KvmVmType.Snp)
        {
            // KVM takes an SNP guest's encrypted access outside every memslot as MMIO: OVMF's SEC reads the local
            // APIC with the C-bit set, which "requires special handling on the hypervisor side" (edk2 PR #5428).
            return null;
        }

        if (isPrivate)
        {
            backend.BeforePrivateAccess(gfn);
        }

        Map(vm, gfn, isPrivate);
        if (isPrivate)
        {
            backend.AfterPrivateMap(gfn);
        }

        vm.Mmu.MarkAccessed(gfn, isPrivate);
        slot = vm.Slots.Find(gfn) ?? throw Unbacked(gfn, isPrivate);
        if (isPrivate || slot.IsGmemOnly)
        {
            var gmem = slot.GuestMemfd ?? throw Unbacked(gfn, isPrivate); // only a private access gets here without one
            return gmem.Pages.PagePointer(slot.GuestMemfdPgoff + (gfn - slot.BaseGfn));
        }

        return vm.Kvm.Host.PagePointer(slot.HostAddress(gfn * Page));
    }

    /// <summary>KVM's fault for an access: mapped, or a memory-fault exit (an implicit conversion, a postcopy page) for userspace.</summary>
    internal static void Map(VmFd vm, ulong gfn, bool isPrivate)
    {
        if (vm.Mmu.Table(isPrivate).Lookup(gfn) is null && !TryMap(vm, gfn, isPrivate))
        {
            throw Unbacked(gfn, isPrivate);
        }
    }

    /// <summary>
    /// <c>kvm_mmu_page_fault</c> for one frame: true when mapped, false when no memslot covers it (MMIO for a shared
    /// access); a fault KVM reports to userspace stops the access as a memory-fault exit.
    /// </summary>
    private static bool TryMap(VmFd vm, ulong gfn, bool isPrivate)
    {
        while (true)
        {
            var outcome = vm.Fault(gfn, 1, isPrivate, prefetch: false);
            switch (outcome.Kind)
            {
                case FaultKind.Mapped:
                    return true;
                case FaultKind.SlotInvalid or FaultKind.Retry:
                    Thread.Yield(); // KVM retries the fault until the slot update completes
                    continue;
                case FaultKind.Error when outcome.Error.Info is { } info:
                    throw new PlatformStop(new KvmExit.MemoryFault(outcome.Error.Errno, info));
                case FaultKind.Error:
                    throw new KvmException(outcome.Error.Errno, outcome.Error.Detail);
                default:
                    return false;
            }
        }
    }

    /// <summary>
    /// A VM without private memory: host memory behind the slot's userspace address, or, for a slot whose only memory
    /// is an mmap-able guest_memfd, the file's page (<c>kvm_memslot_is_gmem_only</c>).
    /// </summary>
    private byte* DefaultPage(ulong gfn, bool write)
    {
        var slot = vm.Slots.Find(gfn);
        if (slot is null || (write && slot.Flags.HasFlag(KvmMemFlags.Readonly)))
        {
            return null; // no memslot, or a write to read-only memory: KVM_EXIT_MMIO
        }

        if (vm.Mmu.Table(isPrivate: false).Lookup(gfn) is null && !TryMap(vm, gfn, isPrivate: false))
        {
            return null;
        }

        vm.Mmu.MarkAccessed(gfn, isPrivate: false);
        return slot is { IsGmemOnly: true, GuestMemfd: { } gmem }
            ? gmem.Pages.PagePointer(slot.GuestMemfdPgoff + (gfn - slot.BaseGfn))
            : vm.Kvm.Host.PagePointer(slot.HostAddress(gfn * Page));
    }

    /// <summary>A page KVM cannot back (no slot, or no guest_memfd behind a private access): a memory-fault exit with EFAULT.</summary>
    private static PlatformStop Unbacked(ulong gfn, bool isPrivate) =>
        new(new KvmExit.MemoryFault(Errno.EFAULT, new MemoryFault(new Gpa(gfn * Page), Page, isPrivate ? KvmMemoryExitFlags.Private : 0)));
}
