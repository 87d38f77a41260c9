using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm.Mmu;
using CocoLaunch.Memory;

namespace CocoLaunch.Kvm;

/// <summary>A VM file descriptor: one method per VM ioctl, each failing with an <see cref="Errno"/>.</summary>
public sealed partial class VmFd
{
    /// <summary>KVM_MAX_VCPU_IDS on x86 (KVM_MAX_VCPUS × 4 with the default topology).</summary>
    public const uint MaxVcpuIds = 4096 * 4;

    private readonly object slotsLock = new();
    private readonly Dictionary<uint, VcpuFd> vcpus = [];

    /// <summary>The vCPUs created so far, as a snapshot another vCPU's thread may walk.</summary>
    internal VcpuFd[] Vcpus
    {
        get
        {
            lock (vcpus)
            {
                return [.. vcpus.Values];
            }
        }
    }

    private volatile MemslotSet slots = MemslotSet.Empty;
    private volatile IntervalMap<ulong> attributes = new(0);

    internal VmFd(Kvm kvm, KvmVmType type)
    {
        Kvm = kvm;
        Type = type;
        Fd = kvm.Fds.Add(this);
        PreFaultAllowed = type is KvmVmType.Default or KvmVmType.SwProtected;
        PreFaultPolicy = type.IsConfidential() ? PreFaultPolicy.ExactRange : PreFaultPolicy.Upstream;
    }

    public Kvm Kvm { get; }

    public KvmVmType Type { get; }

    public int Fd { get; }

    public Stage2 Mmu { get; } = new();

    /// <summary><c>kvm->arch.pre_fault_allowed</c>: true from creation for DEFAULT/SW_PROTECTED; TDX and SNP set it at finalize.</summary>
    public bool PreFaultAllowed { get; private set; }

    /// <summary>How far a pre-fault may map around the requested range; see <see cref="Mmu.PreFaultPolicy"/>.</summary>
    public PreFaultPolicy PreFaultPolicy { get; set; }

    /// <summary>The TDX shared-GPA bit (GPAW 48 → bit 47), or null when the VM has no shared alias.</summary>
    public int? SharedGpaBit { get; internal set; }

    /// <summary><c>kvm->vm_dead</c>: every later VM ioctl fails with EIO (<c>kvm_vm_ioctl</c>). Set by KVM_TDX_TERMINATE_VM.</summary>
    public bool Dead { get; private set; }

    /// <summary>The <c>kvm_vm_ioctl</c> and <c>kvm_vcpu_ioctl</c> entry check: a dead (or bugged) VM answers every ioctl with EIO.</summary>
    internal void ThrowIfDead()
    {
        if (Dead || Bugged is not null)
        {
            throw new KvmException(Errno.EIO, $"the VM is dead: {Bugged ?? "kvm_vm_dead"}");
        }
    }

    /// <summary>Set once KVM has marked the VM bugged (KVM_BUG_ON): every KVM_RUN fails with EIO, saying why.</summary>
    public string? Bugged { get; internal set; }

    /// <summary>Runs before private pages are mapped (SNP: the RMP model); null when the platform needs nothing.</summary>
    public IPrivateMemoryPrepare? PrivateMemoryPrepare { get; set; }

    /// <summary>Hypercalls that exit to userspace (KVM_CAP_EXIT_HYPERCALL).</summary>
    public ulong HypercallExitMask { get; private set; }

    /// <summary>The largest private leaf the vendor allows (<c>gmem_max_mapping_level</c>): 4K for TDX and, with 4K RMP entries, SNP.</summary>
    public PageLevel VendorPrivateMaxLevel => Type is KvmVmType.Tdx or KvmVmType.Snp ? PageLevel.Size4K : PageLevel.Size1G;

    internal MemslotSet Slots => slots;

    internal IntervalMap<ulong> Attributes => attributes;

    public IReadOnlyList<Memslot> Memslots => slots.All;

    /// <summary>KVM_CHECK_EXTENSION on the VM fd.</summary>
    public ulong CheckExtension(KvmCap cap)
    {
        ThrowIfDead();
        return Capabilities.Check(Kvm, this, cap);
    }

    /// <summary>KVM_CAP_X86_MEMORY_FAULT_EXIT's enabled reasons (absent-mapping-rfc): KVM_MEMFAULT_REASON_* bits.</summary>
    public KvmMemoryExitFlags MemoryFaultExitReasons { get; private set; }

    /// <summary>
    /// KVM_ENABLE_CAP in the order of <c>kvm_vm_ioctl</c> → <c>kvm_vm_ioctl_enable_cap_generic</c> →
    /// x86 <c>kvm_vm_ioctl_enable_cap</c>: no struct → EFAULT; (absent-mapping-rfc, generic layer, flags not
    /// checked) KVM_CAP_X86_MEMORY_FAULT_EXIT with unknown reasons → EINVAL; then x86: flags ≠ 0 → EINVAL,
    /// KVM_CAP_EXIT_HYPERCALL with bits outside the valid mask → EINVAL, any other cap (including the
    /// check-only KVM_CAP_MEMORY_FAULT_INFO and KVM_CAP_MEMORY_FAULT_NOWAIT) → EINVAL.
    /// </summary>
    public void EnableCap(KvmEnableCap? args)
    {
        ThrowIfDead();
        var cap = args ?? throw new KvmException(Errno.EFAULT, "KVM_ENABLE_CAP: no kvm_enable_cap");
        if (cap.Cap == KvmCap.X86MemoryFaultExit && Kvm.Profile.AbsentMappingFault)
        {
            var valid = KvmMemoryExitFlags.ReasonUnknown | KvmMemoryExitFlags.AbsentMapping;
            if ((cap.Arg0 & ~(ulong)valid) != 0)
            {
                throw new KvmException(Errno.EINVAL, $"KVM_CAP_X86_MEMORY_FAULT_EXIT reasons 0x{cap.Arg0:x} have bits outside 0x{(ulong)valid:x}");
            }

            MemoryFaultExitReasons = (KvmMemoryExitFlags)cap.Arg0;
            return;
        }

        if (cap.Flags != 0)
        {
            throw new KvmException(Errno.EINVAL, $"KVM_ENABLE_CAP {(uint)cap.Cap}: flags 0x{cap.Flags:x} must be 0");
        }

        switch (cap.Cap)
        {
            case KvmCap.SplitIrqchip:
                EnableSplitIrqchip(cap.Arg0);
                break;
            case KvmCap.ExitHypercall:
                if ((cap.Arg0 & ~KvmLimits.ExitHypercallValidMask) != 0)
                {
                    throw new KvmException(Errno.EINVAL, $"hypercall exit mask 0x{cap.Arg0:x} has bits outside 0x{KvmLimits.ExitHypercallValidMask:x}");
                }

                HypercallExitMask = cap.Arg0;
                break;
            default:
                throw new KvmException(Errno.EINVAL, $"KVM_ENABLE_CAP {(uint)cap.Cap} cannot be enabled on x86");
        }
    }

    /// <summary>KVM_CREATE_VCPU.</summary>
    public VcpuFd CreateVcpu(uint id)
    {
        ThrowIfDead();
        lock (vcpus)
        {
            if (id >= MaxVcpuIds)
            {
                throw new KvmException(Errno.EINVAL, $"vCPU id {id} is not below {MaxVcpuIds}");
            }

            if (vcpus.ContainsKey(id))
            {
                throw new KvmException(Errno.EEXIST, $"vCPU {id} already exists");
            }

            if (Type == KvmVmType.Tdx && !IrqchipSplit)
            {
                // tdx_vcpu_create: a TD's vCPU has an x2APIC only, which needs the local APIC in KVM.
                throw new KvmException(Errno.EINVAL, $"vCPU {id}: a TD's vCPU needs an in-kernel local APIC (KVM_CAP_SPLIT_IRQCHIP first)");
            }

            var vcpu = new VcpuFd(this, id);
            vcpus[id] = vcpu;
            return vcpu;
        }
    }

    /// <summary>kvm_get_vcpu_by_id: the vCPU whose id (APIC ID) is <paramref name="id"/>, if it exists.</summary>
    public VcpuFd? VcpuById(uint id)
    {
        lock (vcpus)
        {
            return vcpus.GetValueOrDefault(id);
        }
    }

    public int VcpuCount
    {
        get
        {
            lock (vcpus)
            {
                return vcpus.Count;
            }
        }
    }

    /// <summary>KVM_CREATE_GUEST_MEMFD; returns the new fd.</summary>
    public int CreateGuestMemfd(KvmCreateGuestMemfd args)
    {
        ThrowIfDead();
        // PRESERVE needs the architecture to keep contents across a conversion: SW_PROTECTED and SNP (whose
        // LAUNCH_UPDATE then encrypts in place); TDX adds pages by copying (PAGE.ADD), so it has none.
        var attributes2 = Kvm.Profile.GmemAttributes2 ? new GmemAttributes2Support(Type.HasPrivateMemory(), Type is KvmVmType.SwProtected or KvmVmType.Snp) : null;
        var gmem = GuestMemfd.Create(this, args.Size, args.Flags, Capabilities.SupportedGmemFlags(Kvm, this), Kvm.Profile.GmemInPlaceConversion, attributes2);
        gmem.Pages.Limit = Kvm.Host.Limit; // guest_memfd pages are page cache, charged to the creating process's cgroup
        return Kvm.Fds.Add(gmem);
    }

    /// <summary>
    /// Called by the vendor launch code when the launch is finalized (KVM_TDX_FINALIZE_VM,
    /// KVM_SEV_SNP_LAUNCH_FINISH): only then may userspace pre-fault private memory.
    /// </summary>
    internal void AllowPreFault() => PreFaultAllowed = true;
}
