using CocoLaunch.Cpu;

namespace CocoLaunch.Firmware.Tdx;

/// <summary>
/// The TDX module between one TD vCPU and the VMM (guest-abi.md §2, §3): IN/OUT, HLT, MMIO on shared GPAs and
/// unvirtualised CPUID and MSRs become #VE; TDCALL leaves are answered from the TD; CPUID leaves the module
/// virtualises come from the TD's configuration. What only the VMM can do leaves as a <see cref="TdExit"/>.
/// </summary>
/// <param name="cpuid">The TD's CPUID configuration, by leaf and subleaf.</param>
/// <param name="nativeMsrs">
/// The MSRs a TD's access reaches without a TD exit and the CPU model does not hold: the virtual-APIC page (KVM's
/// local APIC) and the platform's own MSRs.
/// </param>
/// <param name="tscKhz">The TD's TSC frequency (TD_PARAMS.TSC_FREQUENCY, which KVM sets from its default TSC rate).</param>
public sealed partial class TdGuestCpu(TdxTd td, TdCall call, TdxVcpu vcpu, ITdGuestMemory memory, Func<uint, uint, (uint Eax, uint Ebx, uint Ecx, uint Edx)> cpuid,
    ITdNativeMsrs nativeMsrs, ulong tscKhz)
{
    /// <summary>#VE: vector 20, no error code.</summary>
    public const int VeVector = 20;

    private const int Rax = 0, Rcx = 1, Rdx = 2, Rbx = 3;

    public TdxVcpu Vcpu => vcpu;

    /// <summary>One exit of the TD's CPU: null when the module handled it and the TD runs on.</summary>
    public TdExit? Handle(IGuestCpu c, CpuExit exit)
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
                // A shared GPA without a host mapping: an EPT violation the module reflects as #VE, with the linear
                // address (Linux refuses to emulate an access it cannot place in kernel space).
                InjectVe(c, TdxVeReason.EptViolation, 1, r.Gpa | SharedBit, linear: r.Linear);
                return null;
            case CpuExit.MmioWrite w:
                InjectVe(c, TdxVeReason.EptViolation, 2, w.Gpa | SharedBit, linear: w.Linear);
                return null;
            case CpuExit.Halt:
                InjectVe(c, TdxVeReason.Hlt, 0, 0);
                return null;
            case CpuExit.Shutdown s:
                return new TdExit.TripleFault(s.Reason);
            case CpuExit.InstructionExit x:
                return Instruction(c, x);
            default:
                return null; // an instruction limit: nothing for the module to do
        }
    }

    private ulong SharedBit => 1UL << td.SharedBit;

    /// <summary>CPUID leaf 0's EAX in a TD under the module 1.5.</summary>
    public const uint MaxBasicLeaf = 0x23;

    private TdExit? Instruction(IGuestCpu c, CpuExit.InstructionExit x)
    {
        var s = c.State;
        var gpr = s.Gpr;
        switch (x.Instruction)
        {
            case ExitInstruction.Tdcall:
                return Tdcall(c, x);
            case ExitInstruction.Cpuid when (uint)gpr[Rax] is >= 0x4000_0000 and <= 0x4FFF_FFFF:
                InjectVe(c, TdxVeReason.Cpuid, 0, 0, x);
                return null;
            case ExitInstruction.Cpuid:
                (gpr[Rax], gpr[Rbx], gpr[Rcx], gpr[Rdx]) = Cpuid((uint)gpr[Rax], (uint)gpr[Rcx], s);
                return null;
            case ExitInstruction.Rdmsr or ExitInstruction.Wrmsr:
                Msr(c, x);
                return null;
            case ExitInstruction.Xsetbv:
                // XSETBV runs natively within what the TD's XFAM (its CPUID leaf 0xD) allows.
                var leaf = cpuid(0xD, 0);
                if (!X86Cpu.TrySetXcr0(s, ((ulong)leaf.Edx << 32) | leaf.Eax))
                {
                    c.InjectException(Vector.GeneralProtection, 0, x);
                }

                return null;
            case ExitInstruction.Wbinvd:
                return null;
            default:
                c.InjectException(Vector.InvalidOpcode, null, x); // VMCALL, VMGEXIT, PVALIDATE: not in a TD
                return null;
        }
    }

    /// <summary>
    /// The CPUID leaves the module virtualises: 0x21 names the TDX module; the rest come from the TD's configuration,
    /// with OSXSAVE following CR4.
    /// </summary>
    public (ulong Eax, ulong Ebx, ulong Ecx, ulong Edx) Cpuid(uint function, uint index, CpuState state)
    {
        if (function == 0)
        {
            // Leaf 0 is fixed by the module 1.5: max basic leaf 0x23 (1.0 had 0x21), vendor GenuineIntel (intel/lkvs
            // tdx-compliance/tdx-compliance-cpuid.h). OVMF's reset vector requires at least 0x21 before it reads 0x21.
            return (MaxBasicLeaf, 0x756E_6547, 0x6C65_746E, 0x4965_6E69);
        }

        if (function == 0x21 && index == 0)
        {
            return (0, 0x6574_6E49, 0x2020_2020, 0x5844_546C); // "IntelTDX    "
        }

        if (function == 0x15)
        {
            // The module's TSC leaf (cpuid_configurations.c): a 25 MHz crystal, ratio TSC_FREQUENCY in 25 MHz units.
            return (1, tscKhz / 25_000, 25_000_000, 0);
        }

        var e = cpuid(function, index);
        if (function == 1)
        {
            // Leaf 1 as the module 1.5 builds it (include/auto_gen/cpuid_configurations.c): HYPERVISOR and APIC are
            // fixed 1; x2APIC and the TSC-deadline timer are "verify" bits, the platform's own, which the emulated
            // CPU has (its other verify bits, SSE3 to AES, it does not).
            e.Ecx |= (1u << 21) | (1u << 24) | (1u << 31);
            e.Edx |= 1u << 9;
        }

        return (e.Eax, e.Ebx, state.CpuidEcx(function, e.Ecx), e.Edx);
    }

    private TdExit? Tdcall(IGuestCpu c, CpuExit.InstructionExit x)
    {
        var gpr = c.State.Gpr;
        switch (call.Run(gpr, vcpu, memory, out var faultGpa))
        {
            case TdcallOutcome.Done:
                return null;
            case TdcallOutcome.VmCall:
                // The module refuses to expose RAX, RCX or RSP, or anything above the GPR/XMM masks: no TD exit at all.
                ulong exposed = gpr[Rcx];
                if ((exposed >> 32) != 0 || (exposed & 0x13) != 0)
                {
                    gpr[Rax] = TdCall.OperandInvalid | 1;
                    return null;
                }

                gpr[Rax] = 0;
                return new TdExit.VmCall();
            default:
                c.State.Rip = x.Rip;
                return new TdExit.EptViolation(faultGpa);
        }
    }

    /// <summary>
    /// #VE at the instruction, with the information VEINFO.GET returns. One arriving while the last one is still
    /// unread is a #DF, as in the module.
    /// </summary>
    private void InjectVe(IGuestCpu c, uint reason, ulong qualification, ulong gpa, CpuExit.InstructionExit? at = null, ulong linear = 0)
    {
        if (vcpu.PendingVe is not null)
        {
            Inject(c, Vector.DoubleFault, 0, at);
            return;
        }

        uint length = at is null ? (uint)c.LastExitInstruction.Length : (uint)at.Length;
        vcpu.PendingVe = new VeInfo(reason, qualification, linear, gpa, reason == TdxVeReason.EptViolation ? 0 : length);
        Inject(c, VeVector, null, at);
    }

    private static void Inject(IGuestCpu c, int vector, uint? errorCode, CpuExit.InstructionExit? at)
    {
        if (at is null)
        {
            c.InjectFaultAtLastExit(vector, errorCode);
        }
        else
        {
            c.InjectException(vector, errorCode, at);
        }
    }

    /// <summary>The VMX I/O exit qualification: [2:0] size − 1, bit 3 IN, [31:16] port.</summary>
    private static ulong IoQualification(ushort port, int size, bool isIn) => (uint)(size - 1) | (isIn ? 8UL : 0) | ((ulong)port << 16);
}

/// <summary>VMX exit reasons the TDX module puts in #VE information (guest-abi.md §2.3).</summary>
public static class TdxVeReason
{
    public const uint Cpuid = 10, Hlt = 12, Io = 30, Rdmsr = 31, Wrmsr = 32, EptViolation = 48;
}
