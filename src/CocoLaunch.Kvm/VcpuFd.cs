using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm.Mmu;

namespace CocoLaunch.Kvm;

/// <summary>
/// A vCPU file descriptor: one method per vCPU ioctl. What differs between a plain, a TDX and an SEV-ES/SNP vCPU
/// lives in the backend chosen once, when the vCPU is created (<see cref="VcpuBackend.For"/>).
/// </summary>
public sealed partial class VcpuFd
{
    private const ulong Page = PageSize.Size4K;

    // vcpu->mutex: serialises this vCPU's ioctls (pre-fault against KVM_RUN); other vCPUs run in parallel.
    private readonly object mutex = new();

    internal VcpuFd(VmFd vm, uint id)
    {
        Vm = vm;
        Id = id;
        Backend = VcpuBackend.For(this);
        // kvm_create_lapic: a VM with an in-kernel irqchip gives every vCPU its local APIC, vCPU 0 the BSP.
        Apic = vm.IrqchipSplit ? new LocalApic(id, () => guest?.Tsc ?? 0, DefaultTscKhz, bootstrap: id == 0) { Bus = vm.DeliverIpi } : null;
        Fd = vm.Kvm.Fds.Add(this);
    }

    /// <summary>
    /// The TSC frequency KVM presents when userspace sets none (KVM_SET_TSC_KHZ): 1 GHz, so a TSC tick, an APIC bus
    /// cycle and a nanosecond of guest time are the same, and the processor's one tick per instruction is 1,000 MIPS.
    /// </summary>
    public const ulong DefaultTscKhz = 1_000_000;

    /// <summary>The in-kernel local APIC, when the VM enabled KVM_CAP_SPLIT_IRQCHIP before creating the vCPU.</summary>
    public LocalApic? Apic { get; }

    /// <summary>The vendor half of this vCPU (<c>kvm_x86_ops</c>): default x86, TDX or SEV-ES/SNP.</summary>
    public VcpuBackend Backend { get; }

    /// <summary>The TDX backend, for a TD's vCPU.</summary>
    public TdxVcpuBackend? Tdx => Backend as TdxVcpuBackend;

    /// <summary>The SEV-ES/SNP backend, for an SEV-ES or SNP guest's vCPU.</summary>
    public SevVcpuBackend? Sev => Backend as SevVcpuBackend;

    public VmFd Vm { get; }

    public uint Id { get; }

    public int Fd { get; }

    /// <summary>
    /// The vCPU's initial register state as an SEV-ES/SNP save area (VMSA). Real KVM assembles it from the
    /// registers userspace set; the model takes the assembled page.
    /// </summary>
    public byte[]? SevEsSaveArea { get; set; }

    /// <summary><c>kvm_run.memory_fault</c> as last written (by KVM_RUN or KVM_PRE_FAULT_MEMORY).</summary>
    public MemoryFault? LastMemoryFault { get; private set; }

    /// <summary>
    /// KVM_MEMORY_ENCRYPT_OP on the vCPU fd (<c>kvm_x86_ops.vcpu_mem_enc_ioctl</c>): the TDX vCPU commands. ENOTTY
    /// for a vCPU whose backend has none.
    /// </summary>
    public void MemoryEncryptOp(KvmTdxCmd? cmd, CancellationToken signal = default)
    {
        Vm.ThrowIfDead();
        if (cmd is null)
        {
            throw new KvmException(Errno.EFAULT, "KVM_MEMORY_ENCRYPT_OP: no command (copy_from_user fails)");
        }

        lock (mutex)
        {
            Backend.MemoryEncryptOp(cmd, signal);
        }
    }

    /// <summary>
    /// KVM_PRE_FAULT_MEMORY. Maps [gpa, gpa + size) as a guest read would, without running the guest.
    /// gpa and size are updated in place on every return. Returns 0 when any page was processed, even if
    /// a later one failed; otherwise fails with the error that stopped the first page.
    /// </summary>
    /// <param name="signal">Plays a pending signal: EINTR if it is set before any progress.</param>
    public int PreFaultMemory(ref KvmPreFaultMemory args, CancellationToken signal = default)
    {
        Vm.ThrowIfDead();
        if (args.Flags != 0)
        {
            throw new KvmException(Errno.EINVAL, $"pre-fault flags 0x{args.Flags:x} must be 0");
        }

        if (args.Gpa % Page != 0 || args.Size % Page != 0 || args.Gpa + args.Size <= args.Gpa)
        {
            throw new KvmException(Errno.EINVAL, $"pre-fault range gpa 0x{args.Gpa:x} size 0x{args.Size:x} is misaligned, empty or wraps");
        }

        lock (mutex)
        {
            ulong requested = args.Size;
            var range = (args.Gpa / Page, (args.Gpa + args.Size) / Page);
            FaultError? stop = null;
            while (args.Size > 0)
            {
                if (signal.IsCancellationRequested)
                {
                    stop = new FaultError(Errno.EINTR, null, "a signal is pending");
                    break;
                }

                var (consumed, error) = ArchPreFault(args.Gpa, args.Size, range);
                if (error is { } e)
                {
                    stop = e;
                    break;
                }

                args.Size -= consumed;
                args.Gpa += consumed;
            }

            if (args.Size < requested)
            {
                return 0;
            }

            if (stop!.Value.Info is { } info)
            {
                LastMemoryFault = info;
            }

            throw new KvmException(stop.Value.Errno, stop.Value.Detail);
        }
    }

    /// <summary><c>kvm_arch_vcpu_pre_fault_memory</c>: bytes consumed from gpa, or the error.</summary>
    private (ulong Consumed, FaultError? Error) ArchPreFault(ulong gpa, ulong size, (ulong Start, ulong End) range)
    {
        if (!Vm.PreFaultAllowed)
        {
            return (0, new FaultError(Errno.EOPNOTSUPP, null, $"pre-fault is not allowed on a {Vm.Type.Name()} VM before its launch is finalized"));
        }

        if (Vm.SharedGpaBit is int bit && ((gpa >> bit) & 1) != 0)
        {
            return (0, new FaultError(Errno.EINVAL, null, $"gpa 0x{gpa:x} has the shared bit {bit} set"));
        }

        if (!Vm.Kvm.Profile.TdpEnabled)
        {
            return (0, new FaultError(Errno.EOPNOTSUPP, null, "pre-fault needs the TDP MMU"));
        }

        ulong gfn = gpa / Page;
        bool isPrivate = Vm.Type.HasPrivateMemory() && Vm.AttributesOf(gfn).HasFlag(KvmMemoryAttributes.Private);
        var exact = Vm.PreFaultPolicy == PreFaultPolicy.ExactRange ? range : ((ulong, ulong)?)null;
        FaultOutcome outcome;
        try
        {
            outcome = Vm.Fault(gfn, size / Page, isPrivate, prefetch: true, exact);
        }
        catch (KvmException e)
        {
            return (0, new FaultError(e.Errno, new MemoryFault(new Gpa(gpa), Page, isPrivate ? KvmMemoryExitFlags.Private : 0), e.Detail));
        }

        return outcome.Kind switch
        {
            FaultKind.Mapped => (Math.Min(size, outcome.Frames * Page), null),
            FaultKind.NoSlot => (0, new FaultError(Errno.ENOENT, null, $"gpa 0x{gpa:x} is in no memslot")),
            FaultKind.SlotInvalid => (0, new FaultError(Errno.EAGAIN, null, $"the memslot of gpa 0x{gpa:x} is being deleted or moved")),
            FaultKind.Retry => Yielded(), // kvm_tdp_map_page retries RET_PF_RETRY itself
            _ => (0, outcome.Error),
        };
    }

    /// <summary>No progress this round; the pre-fault loop checks for a signal and faults again.</summary>
    private static (ulong Consumed, FaultError? Error) Yielded()
    {
        Thread.Yield();
        return (0, null);
    }
}
