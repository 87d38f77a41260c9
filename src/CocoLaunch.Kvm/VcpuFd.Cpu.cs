using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Cpu;

namespace CocoLaunch.Kvm;

/// <summary>One KVM_CPUID2 entry as KVM_SET_CPUID2 takes it.</summary>
public readonly record struct CpuidEntry(uint Function, uint Index, uint Eax, uint Ebx, uint Ecx, uint Edx);

/// <summary>
/// KVM_RUN on the emulated CPU: the guest's instructions run on <see cref="X86Cpu"/>, and what the kernel would
/// handle itself (CPUID from KVM_SET_CPUID2, MSRs, hypercalls) is handled here; port I/O, MMIO, HLT and
/// shutdown come back to userspace as the kernel's exits.
/// </summary>
public sealed partial class VcpuFd
{
    private const long KvmEnosys = 1000;
    private X86Cpu? cpu;
    private CpuidEntry[] cpuid = [];
    private KvmExit? cpuPending;

    /// <summary>The emulated CPU behind this vCPU, once <see cref="SetCpu"/> gave it its registers.</summary>
    public X86Cpu? Cpu => cpu;

    /// <summary>
    /// Instructions KVM_RUN may still execute before it returns KVM_EXIT_INTR (−EINTR), as if a signal arrived:
    /// how a VMM bounds a run.
    /// </summary>
    public long InstructionBudget { get; set; } = long.MaxValue;

    /// <summary>KVM_SET_REGS + KVM_SET_SREGS (+ FPU, MSRs) in one step: the CPU starts from <paramref name="state"/>.</summary>
    public void SetCpu(CpuState state, CpuVendor vendor)
    {
        lock (mutex)
        {
            cpu = new X86Cpu(new VcpuPlatform(Vm), state, vendor);
            cpuPending = null;
        }
    }

    /// <summary>KVM_SET_CPUID2: what CPUID returns in the guest.</summary>
    public void SetCpuid2(IReadOnlyList<CpuidEntry> entries)
    {
        lock (mutex)
        {
            cpuid = [.. entries];
        }
    }

    private KvmExit? RunCpu(X86Cpu c)
    {
        if (Vm.Bugged is { } why)
        {
            throw new KvmException(Errno.EIO, why);
        }

        if (Vm.Type == KvmVmType.Tdx && CompleteTdxExit(c) is { } next)
        {
            return next; // the next ≤ 2 MiB chunk of a MapGPA, before the guest runs again
        }

        if (Vm.Type == KvmVmType.Snp && CompleteSnpExit() is { } pscNext)
        {
            return pscNext; // the next run of a page-state change, in the same VMGEXIT
        }

        CompleteCpuExit(c);
        while (true)
        {
            if (InstructionBudget <= 0 || kicked)
            {
                kicked = false;
                return new KvmExit.Intr();
            }

            if (snpUpdatePending)
            {
                return null; // a new save area (or none) was posted: KVM_RUN picks it up before the next VMRUN
            }

            // Another exit's conversion may have zapped pages whose host pointers the CPU caches.
            long generation = Vm.Mmu.Generation;
            if (generation != mappingGeneration)
            {
                mappingGeneration = generation;
                c.FlushTlb();
            }

            long before = c.InstructionsRetired;
            var exit = c.Run(Math.Min(InstructionBudget, RunSlice));
            InstructionBudget -= c.InstructionsRetired - before;
            if (exit is CpuExit.Stopped stopped)
            {
                return Stopped(stopped);
            }

            if (Vm.Type == KvmVmType.Tdx)
            {
                if (TdExit(c, exit) is { } tdExit)
                {
                    return tdExit;
                }

                continue;
            }

            if (Vm.Type == KvmVmType.Snp)
            {
                if (SnpExit(c, exit) is { } snpExit)
                {
                    return snpExit;
                }

                continue;
            }

            switch (exit)
            {
                case CpuExit.PortOut o:
                    return new KvmExit.Io(true, o.Size, o.Port, 1, BitConverter.GetBytes(o.Value)[..o.Size]);
                case CpuExit.PortIn i:
                    return cpuPending = new KvmExit.Io(false, i.Size, i.Port, 1, new byte[i.Size]);
                case CpuExit.MmioRead r:
                    return cpuPending = new KvmExit.Mmio(new Abi.Gpa(r.Gpa), r.Size, false, new byte[r.Size]);
                case CpuExit.MmioWrite w:
                    return new KvmExit.Mmio(new Abi.Gpa(w.Gpa), w.Size, true, BitConverter.GetBytes(w.Value)[..w.Size]);
                case CpuExit.Halt:
                    return new KvmExit.Hlt();
                case CpuExit.Shutdown:
                    return new KvmExit.Shutdown();
                case CpuExit.InstructionLimit:
                    break; // the loop head turns an exhausted budget into KVM_EXIT_INTR
                case CpuExit.InstructionExit x:
                    HandleInKernel(c, x);
                    break;
            }
        }
    }

    private long mappingGeneration = -1;
    private volatile bool kicked;

    // The CPU runs in slices, so that a kick (a signal to the vCPU thread) is seen within a slice.
    private const long RunSlice = 1_000_000;

    /// <summary>Makes a running or the next KVM_RUN return KVM_EXIT_INTR, as a signal to the vCPU thread does.</summary>
    public void Kick()
    {
        kicked = true;
        lock (apGate)
        {
            Monitor.PulseAll(apGate); // a vCPU waiting to be created wakes up and returns −EINTR
        }
    }

    /// <summary>A stopped access: a memory fault for userspace (KVM_RUN fails with EFAULT), or a TD killed for touching an unaccepted page.</summary>
    private KvmExit Stopped(CpuExit.Stopped stopped)
    {
        switch (stopped.Reason)
        {
            case KvmExit.MemoryFault fault:
                LastMemoryFault = fault.Info;
                return fault;
            case TdAccessBeforeAccept access:
                // KVM_BUG_ON in the EPT-violation path: the VM is dead, and every KVM_RUN from now on fails.
                Vm.Bugged = $"the TD accessed private GPA {access.Gpa} before accepting it";
                throw new KvmException(Errno.EIO, Vm.Bugged);
            default:
                throw new InvalidOperationException($"unexpected stop: {stopped.Reason}");
        }
    }

    private void CompleteCpuExit(X86Cpu c)
    {
        switch (cpuPending)
        {
            case KvmExit.Io { IsOut: false } io:
                c.CompletePortIn(io.Size switch { 1 => io.Data[0], 2 => BitConverter.ToUInt16(io.Data), _ => BitConverter.ToUInt32(io.Data) });
                break;
            case KvmExit.Mmio { IsWrite: false } m:
                var buffer = new byte[8];
                m.Data.AsSpan(0, Math.Min(8, m.Data.Length)).CopyTo(buffer);
                c.CompleteMmioRead(BitConverter.ToUInt64(buffer));
                break;
        }

        cpuPending = null;
    }

    /// <summary>The exits KVM answers without userspace (arch/x86/kvm: cpuid.c, x86.c MSRs, kvm_emulate_hypercall).</summary>
    private void HandleInKernel(X86Cpu c, CpuExit.InstructionExit x)
    {
        var s = c.State;
        switch (x.Instruction)
        {
            case ExitInstruction.Cpuid:
            {
                uint function = (uint)s.Gpr[0], index = (uint)s.Gpr[1];
                var e = cpuid.FirstOrDefault(e => e.Function == function && e.Index == index);
                if (e == default)
                {
                    e = cpuid.FirstOrDefault(e => e.Function == function);
                }

                uint ecx = e.Ecx;
                if (function == 1 && (ecx & CpuidXsave) != 0)
                {
                    // OSXSAVE mirrors CR4.OSXSAVE (kvm_update_cpuid_runtime).
                    ecx = (s.Cr4 & CpuState.Cr4OsXsave) != 0 ? ecx | CpuidOsXsave : ecx & ~CpuidOsXsave;
                }

                (s.Gpr[0], s.Gpr[3], s.Gpr[1], s.Gpr[2]) = (e.Eax, e.Ebx, ecx, e.Edx);
                return;
            }

            case ExitInstruction.Xsetbv:
                SetXcr(c, x);
                return;

            case ExitInstruction.Vmcall or ExitInstruction.Vmmcall:
                // No hypercall is enabled for a plain VM: the guest gets −KVM_ENOSYS in RAX.
                s.Gpr[0] = unchecked((ulong)-KvmEnosys);
                return;
            case ExitInstruction.Rdmsr or ExitInstruction.Wrmsr:
                // An MSR neither the CPU nor KVM models: #GP, as KVM injects without ignore_msrs.
                c.InjectException(Vector.GeneralProtection, 0, x);
                return;
            case ExitInstruction.Wbinvd:
                return;
            default:
                c.InjectException(Vector.InvalidOpcode, null, x);
                return;
        }
    }

    private const uint CpuidXsave = 1u << 26, CpuidOsXsave = 1u << 27;

    /// <summary>
    /// XSETBV as __kvm_set_xcr checks it: only XCR0; x87 always on; nothing the guest's CPUID leaf 0xD (and the
    /// emulated CPU) does not offer. Anything else is #GP(0).
    /// </summary>
    private void SetXcr(X86Cpu c, CpuExit.InstructionExit x)
    {
        var s = c.State;
        ulong value = ((s.Gpr[2] & 0xFFFF_FFFF) << 32) | (s.Gpr[0] & 0xFFFF_FFFF);
        var leaf = cpuid.FirstOrDefault(e => e.Function == 0xD && e.Index == 0);
        ulong offered = (((ulong)leaf.Edx << 32) | leaf.Eax) & X86Cpu.SupportedXcr0;
        if ((s.Gpr[1] & 0xFFFF_FFFF) != 0 || (value & 1) == 0 || (value & ~offered) != 0)
        {
            c.InjectException(Vector.GeneralProtection, 0, x);
            return;
        }

        s.Xcr0 = value;
    }
}
