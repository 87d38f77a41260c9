using CocoLaunch.Abi.Kvm;
using CocoLaunch.Cpu;

namespace CocoLaunch.Kvm;

/// <summary>
/// A plain x86 vCPU (KVM_X86_DEFAULT_VM, KVM_X86_SW_PROTECTED_VM): port I/O, MMIO, HLT and shutdown go to
/// userspace; CPUID, XSETBV and hypercalls KVM answers itself. In a SW_PROTECTED VM an access is private when
/// the GFN's attributes say so (<c>kvm_mem_is_private</c>), as there is no bit in the address to say it.
/// </summary>
public sealed class DefaultVcpuBackend : VcpuBackend
{
    private KvmExit? awaiting;

    internal DefaultVcpuBackend(VcpuFd vcpu)
        : base(vcpu)
    {
    }

    internal override bool AccessIsPrivate(ulong gfn, bool cpuSaysPrivate) =>
        Vm.AttributesOf(gfn).HasFlag(KvmMemoryAttributes.Private);

    internal override void Attached() => awaiting = null;

    internal override KvmExit? CompleteUserspaceExit(IGuestCpu c)
    {
        var answered = awaiting;
        awaiting = null;
        switch (answered)
        {
            case KvmExit.Io { IsOut: false } io:
                c.CompletePortIn((uint)AnswerValue(io.Data));
                break;
            case KvmExit.Mmio { IsWrite: false } m:
                c.CompleteMmioRead(AnswerValue(m.Data));
                break;
            case KvmExit.Hypercall h:
                // complete_hypercall_exit: ret in RAX, cut to 32 bits outside 64-bit mode.
                c.State.Gpr[0] = h.LongMode ? h.Ret : (uint)h.Ret;
                break;
        }

        return null;
    }

    internal override KvmExit? HandleExit(IGuestCpu c, CpuExit exit)
    {
        switch (exit)
        {
            case CpuExit.PortOut or CpuExit.PortIn or CpuExit.MmioRead or CpuExit.MmioWrite:
                return awaiting = DeviceExit(exit);
            case CpuExit.Halt:
                return new KvmExit.Hlt();
            case CpuExit.Shutdown:
                return new KvmExit.Shutdown();
            case CpuExit.InstructionExit x:
                return Instruction(c, x);
            default:
                return null;
        }
    }

    /// <summary>The instructions KVM handles without userspace (arch/x86/kvm: cpuid.c, x86.c).</summary>
    private KvmExit? Instruction(IGuestCpu c, CpuExit.InstructionExit x)
    {
        var s = c.State;
        switch (x.Instruction)
        {
            case ExitInstruction.Cpuid:
                (s.Gpr[0], s.Gpr[3], s.Gpr[1], s.Gpr[2]) = KvmCpuid((uint)s.Gpr[0], (uint)s.Gpr[1], s);
                return null;
            case ExitInstruction.Xsetbv:
                KvmSetXcr(c, x);
                return null;
            case ExitInstruction.Vmcall or ExitInstruction.Vmmcall:
            {
                bool op64 = s.LongMode && s.Segments[(int)SegmentName.Cs].Long;
                var exit = EmulateHypercall(s.Gpr[0], s.Gpr[3], s.Gpr[1], s.Gpr[2], op64, s.Cpl, out ulong ret);
                if (exit is not null)
                {
                    return awaiting = exit;
                }

                s.Gpr[0] = ret;
                return null;
            }

            case ExitInstruction.Rdmsr when KvmMsrRead((uint)s.Gpr[1], out ulong value):
                (s.Gpr[0], s.Gpr[2]) = (value & 0xFFFF_FFFF, value >> 32);
                return null;
            case ExitInstruction.Wrmsr when KvmMsrWrite((uint)s.Gpr[1], ((s.Gpr[2] & 0xFFFF_FFFF) << 32) | (s.Gpr[0] & 0xFFFF_FFFF)):
                return null;
            case ExitInstruction.Rdmsr or ExitInstruction.Wrmsr:
                // An MSR neither the CPU nor KVM models, or one the APIC refuses: #GP, as KVM injects without ignore_msrs.
                c.InjectException(Vector.GeneralProtection, 0, x);
                return null;
            case ExitInstruction.Wbinvd:
                return null;
            default:
                c.InjectException(Vector.InvalidOpcode, null, x); // TDCALL, VMGEXIT, PVALIDATE: not on this VM
                return null;
        }
    }
}
