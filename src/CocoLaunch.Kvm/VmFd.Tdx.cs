using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Abi.Measurement;
using CocoLaunch.Firmware.Tdx;

namespace CocoLaunch.Kvm;

/// <summary>KVM's TD life cycle (<c>kvm_tdx->state</c>).</summary>
public enum TdState
{
    Uninitialized,
    Initialized,
    Runnable,
}

public sealed partial class VmFd
{
    /// <summary>ATTRIBUTES bits the modelled TDX module supports (tdx-mrtd.md §10).</summary>
    public const ulong TdxSupportedAttributes =
        (1UL << 0) | (1UL << 4) | (1UL << 5) | (1UL << 6) | (1UL << 16) | (1UL << 27) | (1UL << 28)
        | (1UL << 29) | (1UL << 30) | (1UL << 31) | (1UL << 62) | (1UL << 63);

    /// <summary>XFAM bits 0–19; x87 and SSE (bits 0–1) are mandatory.</summary>
    public const ulong TdxSupportedXfam = (1UL << 20) - 1;

    public TdState TdState { get; private set; }

    /// <summary>The TD inside the emulated TDX module, once KVM_TDX_INIT_VM has run.</summary>
    public TdxTd? Td { get; private set; }

    /// <summary>The module's TDCALL leaves for this TD (after FINALIZE_VM).</summary>
    internal TdCall TdCall => tdCall ??= new TdCall(Td ?? throw new KvmException(Errno.EINVAL, "the TD has not been initialised (KVM_TDX_INIT_VM)"), (int)MaxVcpuIds, () => VcpuCount);

    private TdCall? tdCall;

    private static readonly byte[] ZeroPage = new byte[PageSize.Size4K];

    /// <summary>Where the TDX module records measured operations; set by the launcher before INIT_VM.</summary>
    public MeasurementLog MeasurementLog { get; set; } = new();

    /// <summary>
    /// KVM_MEMORY_ENCRYPT_OP on the VM fd: KVM_TDX_CAPABILITIES, INIT_VM and FINALIZE_VM (kvm-memory-model.md §9).
    /// The command is written back with hw_error filled in, except for an unknown id.
    /// </summary>
    public void MemoryEncryptOp(KvmTdxCmd cmd)
    {
        if (Type != KvmVmType.Tdx)
        {
            throw new KvmException(Errno.ENOTTY, $"KVM_MEMORY_ENCRYPT_OP with a kvm_tdx_cmd on a {Type} VM");
        }

        if (cmd.HwError != 0)
        {
            throw new KvmException(Errno.EINVAL, "hw_error must be 0 on input");
        }

        lock (slotsLock)
        {
            switch (cmd.Id)
            {
                case KvmTdxCmdId.Capabilities:
                    TdxCapabilities(cmd);
                    break;
                case KvmTdxCmdId.InitVm:
                    TdxInitVm(cmd);
                    break;
                case KvmTdxCmdId.FinalizeVm:
                    TdxFinalizeVm(cmd);
                    break;
                default:
                    throw new KvmException(Errno.EINVAL, $"TDX VM command {(uint)cmd.Id} is not a VM-scope command");
            }
        }
    }

    /// <summary>
    /// The CPUID bits a VMM may configure for a TD in this model: GPAW in 0x80000008 and the feature leaves a
    /// VMM typically narrows. (A real module reports its own, larger list.)
    /// </summary>
    private static readonly KvmCpuidEntry2[] ConfigurableCpuid =
    [
        new(0x1, 0, 0, 0, 0, 0xFFFF_FFFF, 0xFFFF_FFFF),
        new(0x7, 0, 1, 0, 0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF),
        new(0x8000_0008, 0, 0, 0x00FF_00FF, 0, 0, 0),
    ];

    private static void TdxCapabilities(KvmTdxCmd cmd)
    {
        if (cmd.Flags != 0)
        {
            throw new KvmException(Errno.EINVAL, $"KVM_TDX_CAPABILITIES: flags 0x{cmd.Flags:x} must be 0");
        }

        var caps = cmd.Data as KvmTdxCapabilities ?? throw new KvmException(Errno.EFAULT, "KVM_TDX_CAPABILITIES: no kvm_tdx_capabilities");
        if (caps.CpuidNent < ConfigurableCpuid.Length)
        {
            caps.CpuidNent = (uint)ConfigurableCpuid.Length;
            throw new KvmException(Errno.E2BIG, $"KVM_TDX_CAPABILITIES: room for {ConfigurableCpuid.Length} CPUID entries needed");
        }

        caps.SupportedAttrs = TdxSupportedAttributes;
        caps.SupportedXfam = TdxSupportedXfam;
        caps.CpuidNent = (uint)ConfigurableCpuid.Length;
        caps.Cpuid = [.. ConfigurableCpuid];
    }

    private void TdxInitVm(KvmTdxCmd cmd)
    {
        if (TdState != TdState.Uninitialized)
        {
            throw new KvmException(Errno.EINVAL, "KVM_TDX_INIT_VM: the TD is already initialised");
        }

        if (cmd.Flags != 0)
        {
            throw new KvmException(Errno.EINVAL, $"KVM_TDX_INIT_VM: flags 0x{cmd.Flags:x} must be 0");
        }

        var init = cmd.Data as KvmTdxInitVm ?? throw new KvmException(Errno.EFAULT, "KVM_TDX_INIT_VM: no kvm_tdx_init_vm");
        if (init.Cpuid.Count > KvmTdxInitVm.MaxCpuidEntries)
        {
            throw new KvmException(Errno.E2BIG, $"KVM_TDX_INIT_VM: {init.Cpuid.Count} CPUID entries, at most {KvmTdxInitVm.MaxCpuidEntries}");
        }

        if (init.Reserved.Any(r => r != 0) || init.CpuidPadding != 0)
        {
            throw new KvmException(Errno.EINVAL, "KVM_TDX_INIT_VM: reserved fields must be 0");
        }

        if (VcpuCount > 0)
        {
            throw new KvmException(Errno.EBUSY, "KVM_TDX_INIT_VM must come before KVM_CREATE_VCPU");
        }

        if ((init.Attributes & ~TdxSupportedAttributes) != 0 || (init.Xfam & ~TdxSupportedXfam) != 0 || (init.Xfam & 0x3) != 0x3)
        {
            throw new KvmException(Errno.EINVAL, $"KVM_TDX_INIT_VM: attributes 0x{init.Attributes:x} or xfam 0x{init.Xfam:x} not supported");
        }

        var phys = init.Cpuid.FirstOrDefault(e => e.Function == 0x8000_0008 && e.Index == 0);
        uint gpaw = (phys.Eax >> 16) & 0xFF;
        if (phys.Function != 0x8000_0008 || gpaw is not (48 or 52))
        {
            throw new KvmException(Errno.EINVAL, "KVM_TDX_INIT_VM: CPUID 0x80000008 must give GPAW 48 or 52");
        }

        SharedGpaBit = (int)gpaw - 1;
        Mmu.SharedAliasBit = SharedGpaBit;
        Td = new TdxTd(SharedGpaBit.Value, MeasurementLog);
        Td.MngInit(new TdParams(init.Attributes, init.Xfam, init.MrConfigId, init.MrOwner, init.MrOwnerConfig));
        TdState = TdState.Initialized;
    }

    /// <summary>
    /// KVM's nr_premapped: Secure-EPT leaves installed before FINALIZE_VM whose TDH.MEM.PAGE.ADD has not
    /// succeeded. Derived from the tables rather than counted, so a zap can never leave it stale.
    /// </summary>
    public long TdxPremappedPages
    {
        get
        {
            if (Td is null || TdState == TdState.Runnable)
            {
                return 0;
            }

            Mmu.MmuLock.EnterReadLock();
            try
            {
                // TDX private leaves are only ever 4K (case 122), so one leaf is one page.
                return Mmu.Private.Leaves().LongCount(l => !Td.IsAdded(new Gpa(l.Gfn * PageSize.Size4K)));
            }
            finally
            {
                Mmu.MmuLock.ExitReadLock();
            }
        }
    }

    private void TdxFinalizeVm(KvmTdxCmd cmd)
    {
        if (TdState != TdState.Initialized || cmd.Flags != 0 || cmd.Data is not null)
        {
            throw new KvmException(Errno.EINVAL, $"KVM_TDX_FINALIZE_VM: the TD is {TdState}, or flags/data are not 0");
        }

        // Every private leaf built before FINALIZE is premapped for a PAGE.ADD; one still waiting would be
        // an unmeasured hole in the TD, so KVM counts them (nr_premapped) and refuses.
        long premapped = TdxPremappedPages;
        if (premapped != 0)
        {
            throw new KvmException(Errno.EINVAL, $"KVM_TDX_FINALIZE_VM: {premapped} private page(s) premapped but not PAGE.ADD'ed");
        }

        try
        {
            Td!.MrFinalize();
        }
        catch (TdxException e)
        {
            cmd.HwError = (ulong)e.Status;
            throw new KvmException(Errno.EIO, $"KVM_TDX_FINALIZE_VM: {e.Message}");
        }

        TdState = TdState.Runnable;
        AllowPreFault();

        // From now on a private fault adds a pending page (TDH.MEM.PAGE.AUG) for the guest to accept, and a
        // zap of the private view removes pages from the Secure EPT (TDH.MEM.PAGE.REMOVE).
        var td = Td!;
        PrivateMemoryPrepare = new TdxAugPrepare(td);
        Mmu.PrivateZapped = (gfn, count) =>
        {
            // The host reclaims a removed page (TDH.PHYMEM.PAGE.RECLAIM, then a clear): its contents are gone, so a
            // conversion in place hands the host a zeroed page, never the TD's data.
            var removed = new List<ulong>();
            td.PageRemoveRange(new Gpa(gfn * PageSize.Size4K), count * PageSize.Size4K, removed);
            foreach (ulong gpa in removed)
            {
                ulong gfn2 = gpa / PageSize.Size4K;
                if (Slots.Find(gfn2) is { GuestMemfd: { } gmem } slot && gmem.Pages.Contains(slot.GuestMemfdPgoff + (gfn2 - slot.BaseGfn)))
                {
                    gmem.Pages.Write(((slot.GuestMemfdPgoff - slot.BaseGfn) * PageSize.Size4K) + gpa, ZeroPage); // a punched page stays punched
                }
            }
        };
    }
}
