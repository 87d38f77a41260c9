using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Cpu;
using CocoLaunch.Firmware.Tdx;

namespace CocoLaunch.Kvm;

/// <summary>
/// A TD running on the emulated CPU: what the TDX module does with the TD's exits (#VE for IN/OUT, HLT, MMIO and
/// unvirtualised CPUID/MSRs; TDCALL leaves), and what KVM does with TDG.VP.VMCALL (guest-abi.md §2, §3, §8.2).
/// </summary>
public sealed partial class VcpuFd
{
    private const int Rax = 0, Rcx = 1, Rdx = 2, R10 = 10, R11 = 11, R12 = 12, R13 = 13, R14 = 14, R15 = 15;
    private const ulong VeVector = 20;
    private TdxVcpu? tdxVcpu;
    private MapGpaProgress? mapGpa;

    /// <summary>The module's per-vCPU state (the #VE info); created with the first TD exit.</summary>
    public TdxVcpu TdxVcpu => tdxVcpu ??= new TdxVcpu(Id);

    /// <summary>A MapGPA being cut into ≤ 2 MiB KVM_EXIT_HYPERCALLs: where the next chunk starts, the end, the direction.</summary>
    private sealed record MapGpaProgress(ulong Start, ulong Next, ulong End, bool ToPrivate, ulong SharedBit, KvmExit.Hypercall Exit);

    /// <summary>One exit of the CPU inside a TD; a KVM exit for userspace, or null when the TD runs on.</summary>
    private KvmExit? TdExit(X86Cpu c, CpuExit exit)
    {
        switch (exit)
        {
            case CpuExit.PortOut o:
                InjectVe(c, TdxVeReason.Io, IoQualification(o.Port, o.Size, isIn: false), 0);
                return null;
            case CpuExit.PortIn i:
                InjectVe(c, TdxVeReason.Io, IoQualification(i.Port, i.Size, isIn: true), 0);
                return null;
            case CpuExit.MmioRead r:
                // A shared GPA without a host mapping: an EPT violation the module reflects as #VE.
                InjectVe(c, TdxVeReason.EptViolation, 1, r.Gpa | TdSharedBit);
                return null;
            case CpuExit.MmioWrite w:
                InjectVe(c, TdxVeReason.EptViolation, 2, w.Gpa | TdSharedBit);
                return null;
            case CpuExit.Halt:
                InjectVe(c, TdxVeReason.Hlt, 0, 0);
                return null;
            case CpuExit.Shutdown:
                return new KvmExit.Shutdown();
            case CpuExit.InstructionLimit:
                return null;
            case CpuExit.InstructionExit x:
                return TdInstruction(c, x);
            default:
                throw new InvalidOperationException($"unexpected CPU exit {exit}");
        }
    }

    private ulong TdSharedBit => 1UL << Vm.SharedGpaBit!.Value;

    private KvmExit? TdInstruction(X86Cpu c, CpuExit.InstructionExit x)
    {
        var gpr = c.State.Gpr;
        switch (x.Instruction)
        {
            case ExitInstruction.Tdcall:
                return Tdcall(c, x);
            case ExitInstruction.Cpuid when (uint)gpr[Rax] is >= 0x4000_0000 and <= 0x4FFF_FFFF:
                InjectVe(c, TdxVeReason.Cpuid, 0, 0, x);
                return null;
            case ExitInstruction.Cpuid:
                // Leaves the module virtualises: answered from the TD's CPUID configuration.
                (gpr[Rax], gpr[3], gpr[Rcx], gpr[Rdx]) = TdCpuid((uint)gpr[Rax], (uint)gpr[Rcx], c.State);
                return null;
            case ExitInstruction.Rdmsr:
                InjectVe(c, TdxVeReason.Rdmsr, 0, 0, x);
                return null;
            case ExitInstruction.Wrmsr:
                InjectVe(c, TdxVeReason.Wrmsr, 0, 0, x);
                return null;
            case ExitInstruction.Xsetbv:
                SetXcr(c, x);
                return null;
            case ExitInstruction.Wbinvd:
                return null;
            default:
                c.InjectException(Vector.InvalidOpcode, null, x); // VMCALL, VMGEXIT, PVALIDATE: not in a TD
                return null;
        }
    }

    /// <summary>
    /// #VE (vector 20, no error code) at the instruction, with the information VEINFO.GET returns. One arriving
    /// while the last one is still unread is a #DF, as in the module.
    /// </summary>
    private void InjectVe(X86Cpu c, uint reason, ulong qualification, ulong gpa, CpuExit.InstructionExit? at = null)
    {
        if (TdxVcpu.PendingVe is not null)
        {
            if (at is null)
            {
                c.InjectFaultAtLastExit(Vector.DoubleFault, 0);
            }
            else
            {
                c.InjectException(Vector.DoubleFault, 0, at);
            }

            return;
        }

        uint length = at is null ? (uint)c.LastExitInstruction.Length : (uint)at.Length;
        TdxVcpu.PendingVe = new VeInfo(reason, qualification, 0, gpa, reason == TdxVeReason.EptViolation ? 0 : length);
        if (at is null)
        {
            c.InjectFaultAtLastExit((int)VeVector, null);
        }
        else
        {
            c.InjectException((int)VeVector, null, at);
        }
    }

    /// <summary>The VMX I/O exit qualification: [2:0] size − 1, bit 3 IN, [31:16] port.</summary>
    private static ulong IoQualification(ushort port, int size, bool isIn) => (uint)(size - 1) | (isIn ? 8UL : 0) | ((ulong)port << 16);

    private KvmExit? Tdcall(X86Cpu c, CpuExit.InstructionExit x)
    {
        var td = Vm.Td!;
        var call = Vm.TdCall;
        while (true)
        {
            switch (call.Run(c.State.Gpr, TdxVcpu, new TdMemory(Vm), out var faultGpa))
            {
                case TdcallOutcome.Done:
                    return null;
                case TdcallOutcome.VmCall:
                    return TdVmcall(c);
                default:
                    // ACCEPT of a GPA with no Secure-EPT leaf: KVM's EPT-violation path faults the page in, which
                    // adds it pending (PAGE.AUG), and the TDCALL runs again; if the GPA is shared in the
                    // attributes, userspace must convert it first, and the TDCALL runs again after that.
                    try
                    {
                        new VcpuPlatform(Vm).Map(faultGpa.Value / Page, isPrivate: true);
                    }
                    catch (PlatformStop stop)
                    {
                        c.State.Rip = x.Rip;
                        return Stopped(new CpuExit.Stopped(stop.Reason));
                    }

                    if (td.StateOf(faultGpa) == SeptState.Free)
                    {
                        throw new InvalidOperationException($"mapping {faultGpa} left it outside the Secure EPT");
                    }

                    continue;
            }
        }
    }

    private (ulong Eax, ulong Ebx, ulong Ecx, ulong Edx) TdCpuid(uint function, uint index, CpuState state)
    {
        if (function == 0x21 && index == 0)
        {
            return (0, 0x6574_6E49, 0x2020_2020, 0x5844_546C); // "IntelTDX    "
        }

        var e = cpuid.FirstOrDefault(e => e.Function == function && e.Index == index);
        if (e == default)
        {
            e = cpuid.FirstOrDefault(e => e.Function == function);
        }

        uint ecx = e.Ecx;
        if (function == 1 && (ecx & CpuidXsave) != 0)
        {
            ecx = (state.Cr4 & CpuState.Cr4OsXsave) != 0 ? ecx | CpuidOsXsave : ecx & ~CpuidOsXsave;
        }

        return (e.Eax, e.Ebx, ecx, e.Edx);
    }

    /// <summary>Guest-physical memory for the module's TDCALL buffers: private pages must be mapped (accepted); shared ones are the host's.</summary>
    private sealed class TdMemory(VmFd vm) : ITdGuestMemory
    {
        public bool TryRead(ulong gpa, Span<byte> destination)
        {
            if (!Access(gpa, destination.Length, out var store, out ulong plain))
            {
                return false;
            }

            store!.Read(plain, destination);
            return true;
        }

        public bool TryWrite(ulong gpa, ReadOnlySpan<byte> source)
        {
            if (!Access(gpa, source.Length, out var store, out ulong plain))
            {
                return false;
            }

            store!.Write(plain, source);
            return true;
        }

        private bool Access(ulong gpa, int length, out IGuestPageBacking? store, out ulong plain)
        {
            ulong shared = 1UL << vm.SharedGpaBit!.Value;
            bool isPrivate = (gpa & shared) == 0;
            plain = gpa & ~shared;
            store = null;
            if ((plain % Page) + (ulong)length > Page || vm.Slots.Find(plain / Page) is null)
            {
                return false;
            }

            if (isPrivate && vm.Td!.StateOf(new Gpa(plain & ~(Page - 1))) != SeptState.Mapped)
            {
                return false;
            }

            if (!isPrivate && vm.AttributesOf(plain / Page).HasFlag(KvmMemoryAttributes.Private))
            {
                return false;
            }

            store = vm.BackingStore(plain / Page, isPrivate);
            return true;
        }
    }
}

/// <summary>VMX exit reasons the TDX module puts in #VE information (guest-abi.md §2.3).</summary>
public static class TdxVeReason
{
    public const uint Cpuid = 10, Hlt = 12, Io = 30, Rdmsr = 31, Wrmsr = 32, EptViolation = 48;
}
