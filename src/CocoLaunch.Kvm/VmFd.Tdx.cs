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

    /// <summary>KVM_TDX_TERMINATE_VM has run: the HKID is released and the VM is dead (every VM ioctl is EIO).</summary>
    public bool TdxTerminated { get; private set; }

    /// <summary>The TD inside the emulated TDX module, once KVM_TDX_INIT_VM has run.</summary>
    public TdxTd? Td { get; private set; }

    /// <summary>The CPUID values KVM_TDX_INIT_VM configured in the TD (the module's virtualised leaves), by leaf and subleaf.</summary>
    internal IReadOnlyList<KvmCpuidEntry2> TdCpuid { get; private set; } = [];

    /// <summary>The module's TDCALL leaves for this TD (after FINALIZE_VM).</summary>
    internal TdCall TdCall => tdCall ??= new TdCall(Td ?? throw new KvmException(Errno.EINVAL, "the TD has not been initialised (KVM_TDX_INIT_VM)"), (int)MaxVcpuIds, () => VcpuCount);

    private TdCall? tdCall;

    private static readonly byte[] ZeroPage = new byte[PageSize.Size4K];

    /// <summary>Where the TDX module records measured operations; set by the launcher before INIT_VM.</summary>
    public MeasurementLog MeasurementLog { get; set; } = new();

    /// <summary>
    /// KVM_MEMORY_ENCRYPT_OP on the VM fd, in the order of <c>tdx_vm_ioctl</c> (arch/x86/kvm/vmx/tdx.c): copy
    /// (no struct) → EFAULT; hw_error ≠ 0 → EINVAL; then, under kvm->lock, CAPABILITIES, INIT_VM, FINALIZE_VM
    /// and (6.17+) TERMINATE_VM. An unknown id — including the vCPU commands INIT_VCPU, INIT_MEM_REGION and
    /// GET_CPUID — is EINVAL. The command is written back with hw_error filled in, except for an unknown id.
    /// </summary>
    public void MemoryEncryptOp(KvmTdxCmd? cmd)
    {
        ThrowIfDead();
        if (Type != KvmVmType.Tdx)
        {
            throw new KvmException(Errno.ENOTTY, $"KVM_MEMORY_ENCRYPT_OP with a kvm_tdx_cmd on a {Type.Name()} VM");
        }

        if (cmd is null)
        {
            throw new KvmException(Errno.EFAULT, "KVM_MEMORY_ENCRYPT_OP: no kvm_tdx_cmd");
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
                case KvmTdxCmdId.TerminateVm when !Kvm.Profile.Tdx616:
                    TdxTerminateVm();
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

    /// <summary>TDVMCALLINFO_SETUP_EVENT_NOTIFY_INTERRUPT: the TDVMCALL leaf 1 bit KVM lets userspace handle (6.17+).</summary>
    public const ulong TdvmcallInfoSetupEventNotifyInterrupt = 1UL << 1;

    /// <summary>
    /// KVM_TDX_CAPABILITIES, as <c>tdx_get_capabilities</c>: flags → EINVAL; reading cpuid.nent → EFAULT;
    /// nent below the configurable-leaf count → E2BIG with nothing written back; then the whole struct.
    /// </summary>
    private void TdxCapabilities(KvmTdxCmd cmd)
    {
        if (cmd.Flags != 0)
        {
            throw new KvmException(Errno.EINVAL, $"KVM_TDX_CAPABILITIES: flags 0x{cmd.Flags:x} must be 0");
        }

        var caps = cmd.Data as KvmTdxCapabilities ?? throw new KvmException(Errno.EFAULT, "KVM_TDX_CAPABILITIES: no kvm_tdx_capabilities");
        if (caps.CpuidNent < ConfigurableCpuid.Length)
        {
            throw new KvmException(Errno.E2BIG, $"KVM_TDX_CAPABILITIES: room for {caps.CpuidNent} CPUID entries, {ConfigurableCpuid.Length} needed");
        }

        caps.SupportedAttrs = TdxSupportedAttributes;
        caps.SupportedXfam = TdxSupportedXfam;
        caps.KernelTdvmcallInfo1R11 = 0;
        caps.UserTdvmcallInfo1R11 = Kvm.Profile.Tdx616 ? 0 : TdvmcallInfoSetupEventNotifyInterrupt;
        caps.KernelTdvmcallInfo1R12 = 0;
        caps.UserTdvmcallInfo1R12 = 0;
        caps.CpuidNent = (uint)ConfigurableCpuid.Length;
        caps.Cpuid = [.. ConfigurableCpuid];
    }

    /// <summary>
    /// KVM_TDX_INIT_VM in the order of <c>tdx_td_init</c> and <c>setup_tdparams</c>: state, flags, copy, nent,
    /// reserved, cpuid.padding, then vCPUs (EBUSY), attributes, xfam, GPAW (0x80000008, 48 or 52, 52 only with
    /// 5-level EPT), and every CPUID entry must be a configurable leaf with configurable bits.
    /// </summary>
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
        var cpuid = init.Cpuid ?? throw new KvmException(Errno.EFAULT, "KVM_TDX_INIT_VM: no CPUID entries");
        if (cpuid.Count > KvmTdxInitVm.MaxCpuidEntries)
        {
            throw new KvmException(Errno.E2BIG, $"KVM_TDX_INIT_VM: {cpuid.Count} CPUID entries, at most {KvmTdxInitVm.MaxCpuidEntries}");
        }

        if (init.Reserved is not { Length: 12 } reserved || reserved.Any(r => r != 0) || init.CpuidPadding != 0)
        {
            throw new KvmException(Errno.EINVAL, "KVM_TDX_INIT_VM: reserved[12] and cpuid.padding must be 0");
        }

        if (VcpuCount > 0)
        {
            throw new KvmException(Errno.EBUSY, "KVM_TDX_INIT_VM must come before KVM_CREATE_VCPU");
        }

        if ((init.Attributes & ~TdxSupportedAttributes) != 0 || (init.Xfam & ~TdxSupportedXfam) != 0 || (init.Xfam & 0x3) != 0x3)
        {
            throw new KvmException(Errno.EINVAL, $"KVM_TDX_INIT_VM: attributes 0x{init.Attributes:x} or xfam 0x{init.Xfam:x} not supported");
        }

        uint gpaw = TdxGuestPhysBits(cpuid);
        TdxCheckCpuid(cpuid);

        byte[] Measurement(byte[]? field, string name) => field is { Length: 48 } ? field : throw new KvmException(Errno.EFAULT, $"KVM_TDX_INIT_VM: {name} must be 48 bytes");
        var mrConfigId = Measurement(init.MrConfigId, "mrconfigid");
        var mrOwner = Measurement(init.MrOwner, "mrowner");
        var mrOwnerConfig = Measurement(init.MrOwnerConfig, "mrownerconfig");

        SharedGpaBit = (int)gpaw - 1;
        Mmu.SharedAliasBit = SharedGpaBit;
        TdCpuid = [.. cpuid.OrderBy(e => e.Function).ThenBy(e => e.Index)];
        Td = new TdxTd(SharedGpaBit.Value, MeasurementLog);
        Td.MngInit(new TdParams(init.Attributes, init.Xfam, mrConfigId, mrOwner, mrOwnerConfig));
        TdState = TdState.Initialized;
    }

    /// <summary>
    /// <c>setup_tdparams_eptp_controls</c>: CPUID 0x80000008 must be present with GPAW (EAX[23:16]) 48 or 52, and
    /// 52 needs a host with 5-level EPT.
    /// </summary>
    private uint TdxGuestPhysBits(List<KvmCpuidEntry2> cpuid)
    {
        var phys = cpuid.FirstOrDefault(e => e.Function == 0x8000_0008 && e.Index == 0);
        uint gpaw = (phys.Eax >> 16) & 0xFF;
        if (phys.Function != 0x8000_0008 || gpaw is not (48 or 52))
        {
            throw new KvmException(Errno.EINVAL, "KVM_TDX_INIT_VM: CPUID 0x80000008 must give GPAW 48 or 52");
        }

        if (gpaw == 52 && !Kvm.Profile.Ept5Level)
        {
            throw new KvmException(Errno.EINVAL, "KVM_TDX_INIT_VM: GPAW 52 needs 5-level EPT, which this host lacks");
        }

        return gpaw;
    }

    /// <summary>
    /// <c>setup_tdparams_cpuids</c>: every user entry must land in a configurable leaf's slot (else EINVAL, as KVM
    /// counts copied entries against nent); bits outside the leaf's configurable mask stand for the TDX
    /// module's TDH.MNG.INIT operand check (EINVAL).
    /// </summary>
    private static void TdxCheckCpuid(List<KvmCpuidEntry2> cpuid)
    {
        int copied = 0;
        foreach (var leaf in ConfigurableCpuid)
        {
            var match = cpuid.FirstOrDefault(e => e.Function == leaf.Function && ((e.Flags & 1) == 0 || e.Index == leaf.Index));
            if (match.Function != leaf.Function || cpuid.IndexOf(match) < 0)
            {
                continue;
            }

            copied++;
            if ((match.Eax & ~leaf.Eax) != 0 || (match.Ebx & ~leaf.Ebx) != 0 || (match.Ecx & ~leaf.Ecx) != 0 || (match.Edx & ~leaf.Edx) != 0)
            {
                throw new KvmException(Errno.EINVAL, $"KVM_TDX_INIT_VM: CPUID 0x{leaf.Function:x} sets bits the TD cannot configure");
            }
        }

        if (copied != cpuid.Count)
        {
            throw new KvmException(Errno.EINVAL, $"KVM_TDX_INIT_VM: {cpuid.Count - copied} CPUID entr{(cpuid.Count - copied == 1 ? "y is" : "ies are")} not configurable leaves");
        }
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

    /// <summary>
    /// KVM_TDX_FINALIZE_VM as <c>tdx_td_finalize</c>: no HKID (INIT_VM not done, or terminated) or already
    /// RUNNABLE → EINVAL; premapped pages → EINVAL; TDH.MR.FINALIZE busy → EBUSY, other failure → EIO.
    /// (The model also refuses flags or data, which upstream ignores; kept for the documented "must be 0".)
    /// </summary>
    private void TdxFinalizeVm(KvmTdxCmd cmd)
    {
        if (TdState != TdState.Initialized || cmd.Flags != 0 || cmd.Data is not null)
        {
            throw new KvmException(Errno.EINVAL, $"KVM_TDX_FINALIZE_VM: the TD is {TdState}, or flags/data are not 0");
        }

        // Every private leaf built before FINALIZE is premapped for a PAGE.ADD; one still waiting would be
        // an unmeasured hole in the TD, so KVM counts them (nr_premapped) and refuses.
        var td = Td ?? throw new KvmException(Errno.EINVAL, "KVM_TDX_FINALIZE_VM: the TD has not been initialised");
        long premapped = TdxPremappedPages;
        if (premapped != 0)
        {
            throw new KvmException(Errno.EINVAL, $"KVM_TDX_FINALIZE_VM: {premapped} private page(s) premapped but not PAGE.ADD'ed");
        }

        try
        {
            td.MrFinalize();
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

    /// <summary>
    /// KVM_TDX_TERMINATE_VM (6.17+, <c>tdx_terminate_vm</c>): all vCPUs are try-locked (a busy one → EBUSY), the VM
    /// is marked dead (<c>kvm_vm_dead</c>: later VM ioctls and KVM_RUN fail with EIO) and the HKID released.
    /// flags and data are not checked by the kernel. The model cannot see a vCPU mid-ioctl (its mutex is the
    /// vCPU's own), so it never answers EBUSY.
    /// </summary>
    private void TdxTerminateVm()
    {
        Dead = true;
        Bugged ??= "the TD was terminated (KVM_TDX_TERMINATE_VM)";
        TdxTerminated = true;
    }
}
