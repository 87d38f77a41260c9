using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Cpu;

namespace CocoLaunch.Kvm;

/// <summary>One KVM_CPUID2 entry as KVM_SET_CPUID2 takes it.</summary>
public readonly record struct CpuidEntry(uint Function, uint Index, uint Eax, uint Ebx, uint Ecx, uint Edx);

/// <summary>
/// KVM_RUN and the vCPU state userspace sets before it (registers, CPUID). The run loop is vendor-neutral: the
/// processor runs against KVM's view of guest memory, a memory fault stops it for userspace, and every other
/// exit goes to the backend chosen when the vCPU was created (<c>kvm_x86_ops</c>).
/// </summary>
public sealed partial class VcpuFd
{
    // The CPU runs in slices, so that a kick (a signal to the vCPU thread) is seen within a slice.
    private const long RunSlice = 1_000_000;

    private IGuestCpu? guest;
    private CpuidEntry[] cpuid = [];
    private long mappingGeneration = -1;
    private volatile bool kicked;

    /// <summary>The processor behind this vCPU, once <see cref="SetCpu"/> or <see cref="SetGuest"/> gave it one.</summary>
    public IGuestCpu? Cpu => guest;

    /// <summary>
    /// Instructions KVM_RUN may still execute before it returns KVM_EXIT_INTR (−EINTR), as if a signal arrived:
    /// how a VMM bounds a run.
    /// </summary>
    public long InstructionBudget { get; set; } = long.MaxValue;

    /// <summary>
    /// <c>kvm_run.immediate_exit</c>: KVM_RUN completes the exit userspace just answered, then returns −EINTR
    /// (KVM_EXIT_INTR) without entering the guest.
    /// </summary>
    public bool ImmediateExit { get; set; }

    /// <summary>KVM_SET_REGS + KVM_SET_SREGS (+ FPU, MSRs) in one step: the emulated CPU starts from <paramref name="state"/>.</summary>
    public void SetCpu(CpuState state, CpuVendor vendor) => SetGuest(platform => new X86Cpu(platform, state, vendor));

    /// <summary>
    /// Attaches the processor KVM_RUN enters, built on the platform this vCPU gives it (KVM's view of guest memory):
    /// the emulated CPU, or a test's scripted guest, which then takes exactly the code path a booted guest takes.
    /// </summary>
    public void SetGuest(Func<IPlatform, IGuestCpu> attach)
    {
        Vm.ThrowIfDead();
        lock (mutex)
        {
            guest = attach(new VcpuPlatform(Vm, Backend));
            Backend.Attached();
        }
    }

    /// <summary>KVM_MAX_CPUID_ENTRIES: the most entries KVM_SET_CPUID2 takes.</summary>
    public const int MaxCpuidEntries = 256;

    /// <summary>
    /// KVM_SET_CPUID2: what CPUID returns in the guest. No list is EFAULT (the copy fails); more than
    /// <see cref="MaxCpuidEntries"/> entries is E2BIG (<c>kvm_vcpu_ioctl_set_cpuid2</c>).
    /// </summary>
    public void SetCpuid2(IReadOnlyList<CpuidEntry>? entries)
    {
        Vm.ThrowIfDead();
        if (entries is null)
        {
            throw new KvmException(Errno.EFAULT, "KVM_SET_CPUID2: no kvm_cpuid2");
        }

        if (entries.Count > MaxCpuidEntries)
        {
            throw new KvmException(Errno.E2BIG, $"KVM_SET_CPUID2: {entries.Count} entries, at most {MaxCpuidEntries}");
        }

        lock (mutex)
        {
            cpuid = [.. entries];
        }
    }

    /// <summary><c>kvm_find_cpuid_entry_index</c>, falling back to the leaf's first entry; zeros when absent.</summary>
    internal CpuidEntry FindCpuid(uint function, uint index)
    {
        var e = cpuid.FirstOrDefault(e => e.Function == function && e.Index == index);
        return e == default ? cpuid.FirstOrDefault(e => e.Function == function) : e;
    }

    /// <summary>Makes a running or the next KVM_RUN return KVM_EXIT_INTR, as a signal to the vCPU thread does.</summary>
    public void Kick()
    {
        kicked = true;
        Apic?.Interrupt();
        Backend.Kicked();
    }

    /// <summary>
    /// The guest TSC at which a host timer kicks this vCPU (KVM_RUN returns KVM_EXIT_INTR), or null. Guest time is
    /// the TSC here, and a halted vCPU's TSC jumps ahead, so host work that takes time (a quote being made) is
    /// scheduled in guest time: the vCPU runs, or sleeps, no further than this.
    /// </summary>
    public ulong? KickAtTsc { get; set; }

    /// <summary>Consumes a pending kick: true when KVM_RUN must return −EINTR now.</summary>
    internal bool TakeKick()
    {
        if (KickAtTsc is { } at && guest is { } c && c.Tsc >= at)
        {
            KickAtTsc = null;
            return true;
        }

        if (!kicked)
        {
            return false;
        }

        kicked = false;
        return true;
    }

    /// <summary>
    /// KVM_RUN: completes the exit userspace answered (IN or MMIO read data, a hypercall's ret), then runs the guest
    /// until the next exit. A memory fault comes back as <see cref="KvmExit.MemoryFault"/> (the ioctl's −1/EFAULT);
    /// the faulting instruction runs again on the next call, after userspace fixed the cause.
    /// </summary>
    public KvmExit Run()
    {
        while (true)
        {
            if (Backend.BeforeEntry() is { } gateExit)
            {
                return gateExit;
            }

            if (RunOnce() is { } exit)
            {
                return exit;
            }
        }
    }

    /// <summary>One entry; null when the backend must act outside the vCPU mutex first (a posted SNP AP update).</summary>
    private KvmExit? RunOnce()
    {
        lock (mutex)
        {
            Vm.ThrowIfDead();
            var c = guest ?? throw new KvmException(Errno.ENOEXEC, "the vCPU has no guest to run");
            if (Vm.Memslots.Count == 0)
            {
                return new KvmExit.InternalError(1, "KVM_RUN with no memslots");
            }

            if (Backend.CompleteUserspaceExit(c) is { } next)
            {
                return next; // the next piece of an operation cut into several exits, before the guest runs again
            }

            if (ImmediateExit)
            {
                return new KvmExit.Intr();
            }

            Backend.PreRun();

            while (true)
            {
                if (InstructionBudget <= 0 || TakeKick())
                {
                    return new KvmExit.Intr();
                }

                if (Backend.MustLeaveBeforeEntry)
                {
                    return null;
                }

                // Another vCPU's conversion may have zapped pages whose host pointers the CPU caches.
                long generation = Vm.Mmu.Generation;
                if (generation != mappingGeneration)
                {
                    mappingGeneration = generation;
                    c.FlushTlb();
                }

                if (InjectEvents(c) is { } eventExit)
                {
                    return eventExit;
                }

                long before = c.InstructionsRetired;
                var exit = c.Run(SliceUntilTimer(c, Math.Min(InstructionBudget, RunSlice)));
                InstructionBudget -= c.InstructionsRetired - before;
                switch (exit)
                {
                    case CpuExit.Stopped stopped:
                        return Stopped(stopped);
                    case CpuExit.InstructionLimit or CpuExit.InterruptWindow:
                        continue; // the loop head turns an exhausted budget into KVM_EXIT_INTR, and injects
                    case CpuExit.Halt when Apic is { } apic && !Backend.VirtualizesHlt:
                        if (Wake(c, apic))
                        {
                            continue;
                        }

                        return new KvmExit.Hlt();
                    case CpuExit.MmioRead or CpuExit.MmioWrite when HandleApicMmio(c, exit):
                        continue;
                }

                if (Backend.HandleExit(c, exit) is { } kvmExit)
                {
                    return kvmExit;
                }
            }
        }
    }

    /// <summary>A stopped access: a memory fault for userspace (KVM_RUN fails with EFAULT), or a VM KVM has marked bugged.</summary>
    internal KvmExit Stopped(CpuExit.Stopped stopped)
    {
        switch (stopped.Reason)
        {
            case KvmExit.MemoryFault fault:
                LastMemoryFault = fault.Info;
                return fault;
            case VmBug bug:
                // KVM_BUG_ON: the VM is dead, and every KVM_RUN from now on fails.
                Vm.Bugged = bug.Why;
                throw new KvmException(Errno.EIO, bug.Why);
            default:
                throw new KvmException(Errno.EIO, $"vCPU {Id}: the access stopped for an unknown reason ({stopped.Reason})");
        }
    }
}

/// <summary>Why an access stopped the VM for good (KVM_BUG_ON): every KVM_RUN from now on fails with EIO.</summary>
public sealed record VmBug(string Why);
