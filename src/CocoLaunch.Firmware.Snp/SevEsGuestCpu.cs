using CocoLaunch.Abi;
using CocoLaunch.Cpu;

namespace CocoLaunch.Firmware.Snp;

/// <summary>
/// The SEV-ES/SNP extension of one guest CPU (guest-abi.md §4–§6): what the hardware turns into a #VC (CPUID, port
/// I/O, MSRs, MMIO, VMMCALL), the GHCB MSR and SEV_STATUS it keeps in the save area, PVALIDATE and RMPADJUST
/// against the RMP, and the access check that makes an unvalidated private page a #VC. What only the hypervisor can
/// do leaves as an <see cref="SvmExit"/>. Without an RMP (SEV-ES) PVALIDATE and RMPADJUST are #UD.
/// </summary>
public sealed class SevEsGuestCpu(RmpTable? rmp)
{
    public const uint GhcbMsrIndex = 0xC001_0130, SevStatusMsr = 0xC001_0131;

    /// <summary>The C-bit position an SNP guest sees in CPUID 0x8000001F EBX[5:0].</summary>
    public const int CBit = 51;

    /// <summary>#VC error codes (the SVM exit codes, guest-abi.md §4).</summary>
    public const uint VcCpuid = 0x72, VcIoio = 0x7B, VcMsr = 0x7C, VcVmmcall = 0x81, VcNpf = 0x400, VcNotValidated = 0x404;

    private const ulong RmpadjustVmsa = 1UL << 16, RmpadjustFailInput = 1, RmpadjustFailPermission = 2;

    /// <summary>SEV_STATUS: SEV and SEV-ES, and SNP where there is an RMP.</summary>
    public ulong SevStatus => rmp is null ? 0x3UL : 0x7UL;

    /// <summary>The GHCB MSR, held in the save area; the hypervisor preloads it at reset and answers through it.</summary>
    public ulong GhcbMsr { get; set; }

    /// <summary>One exit of the guest's CPU: null when the hardware handled it (or made it a #VC) and the guest runs on.</summary>
    public SvmExit? Handle(IGuestCpu c, CpuExit exit)
    {
        switch (exit)
        {
            case CpuExit.PortOut or CpuExit.PortIn:
                c.InjectFaultAtLastExit(Vector.VmmCommunication, VcIoio);
                return null;
            case CpuExit.MmioRead or CpuExit.MmioWrite:
                c.InjectFaultAtLastExit(Vector.VmmCommunication, VcNpf);
                return null;
            case CpuExit.Halt:
                return new SvmExit.Hlt();
            case CpuExit.Shutdown s:
                return new SvmExit.Shutdown(s.Reason);
            case CpuExit.InstructionExit x:
                return Instruction(c, x);
            default:
                return null;
        }
    }

    /// <summary>
    /// The RMP check of a private access after the nested page walk: a page that is the guest's but not validated
    /// raises #VC (error code 0x404) for the guest to PVALIDATE it first.
    /// </summary>
    public bool PrivateAccessFaults(Gpa frame) => rmp is not null && !rmp.IsUsable(frame);

    private SvmExit? Instruction(IGuestCpu c, CpuExit.InstructionExit x)
    {
        var s = c.State;
        switch (x.Instruction)
        {
            case ExitInstruction.Rdmsr when (uint)s.Gpr[1] is GhcbMsrIndex or SevStatusMsr:
                ulong value = (uint)s.Gpr[1] == GhcbMsrIndex ? GhcbMsr : SevStatus;
                (s.Gpr[0], s.Gpr[2]) = (value & 0xFFFF_FFFF, value >> 32);
                return null;
            case ExitInstruction.Wrmsr when (uint)s.Gpr[1] == GhcbMsrIndex:
                GhcbMsr = ((s.Gpr[2] & 0xFFFF_FFFF) << 32) | (s.Gpr[0] & 0xFFFF_FFFF);
                return null;
            case ExitInstruction.Rdmsr or ExitInstruction.Wrmsr:
                c.InjectException(Vector.VmmCommunication, VcMsr, x);
                return null;
            case ExitInstruction.Cpuid:
                c.InjectException(Vector.VmmCommunication, VcCpuid, x);
                return null;
            case ExitInstruction.Vmmcall:
                c.InjectException(Vector.VmmCommunication, VcVmmcall, x);
                return null;
            case ExitInstruction.Vmgexit:
                return new SvmExit.Vmgexit(GhcbMsr);
            case ExitInstruction.Pvalidate when rmp is not null:
                return Pvalidate(c, x, rmp);
            case ExitInstruction.Rmpadjust when rmp is not null:
                return Rmpadjust(c, x, rmp);
            case ExitInstruction.Xsetbv:
                // XCR0 is the guest's own under SEV-ES: XSETBV runs without an exit.
                if (!X86Cpu.TrySetXcr0(s, X86Cpu.SupportedXcr0))
                {
                    c.InjectException(Vector.GeneralProtection, 0, x);
                }

                return null;
            case ExitInstruction.Wbinvd:
                return null;
            default:
                c.InjectException(Vector.InvalidOpcode, null, x);
                return null;
        }
    }

    /// <summary>
    /// PVALIDATE: RAX = the page's virtual address, ECX = 2M, EDX = validate. EAX gets the return code and CF says
    /// the bit did not change. A page that is not the guest's, or a 4K request inside a 2M entry, is an RMP #NPF; an
    /// address the page tables do not map is a #PF, which Linux's early boot answers by mapping it (early_make_pgtable).
    /// </summary>
    private static SvmExit? Pvalidate(IGuestCpu c, CpuExit.InstructionExit x, RmpTable rmp)
    {
        var s = c.State;
        if (!c.TranslateOrFault(s.Gpr[0], x, out ulong gpa))
        {
            return null;
        }

        if ((gpa & (1UL << CBit)) == 0)
        {
            SetPvalidateResult(s, RmpTable.PvalidateFailInput, unchanged: false);
            return null;
        }

        var frame = new Gpa(gpa & ~(1UL << CBit) & ~0xFFFUL);
        bool size2M = (s.Gpr[1] & 1) != 0;
        if (!size2M && rmp.IsLarge(frame))
        {
            s.Rip = x.Rip;
            return new SvmExit.Npf(frame, SizeMismatch: true);
        }

        if (rmp.Pvalidate(frame, size2M, validate: (s.Gpr[2] & 1) != 0) is not { } result)
        {
            s.Rip = x.Rip;
            return new SvmExit.Npf(frame, SizeMismatch: false);
        }

        SetPvalidateResult(s, result.ReturnCode, result.Unchanged);
        return null;
    }

    private static void SetPvalidateResult(CpuState s, uint code, bool unchanged)
    {
        s.Gpr[0] = code;
        s.Rflags = (s.Rflags & ~CpuState.ArithmeticFlags) | (unchanged ? CpuState.FlagCf : 0);
    }

    /// <summary>
    /// RMPADJUST: RAX = the page's virtual address, RCX = page size, RDX = attributes ([7:0] target VMPL, bit 16 VMSA).
    /// The guest runs at VMPL0, so any higher target VMPL is allowed; the VMSA bit is what the model keeps.
    /// </summary>
    private static SvmExit? Rmpadjust(IGuestCpu c, CpuExit.InstructionExit x, RmpTable rmp)
    {
        var s = c.State;
        ulong attrs = s.Gpr[2];
        if ((attrs & 0xFF) == 0 || (s.Gpr[1] & 1) != 0)
        {
            s.Gpr[0] = (attrs & 0xFF) == 0 ? RmpadjustFailPermission : RmpadjustFailInput;
            return null;
        }

        if (!c.TranslateOrFault(s.Gpr[0], x, out ulong gpa))
        {
            return null;
        }

        if ((gpa & (1UL << CBit)) == 0)
        {
            s.Gpr[0] = RmpadjustFailInput;
            return null;
        }

        var frame = new Gpa(gpa & ~(1UL << CBit) & ~0xFFFUL);
        if (rmp.IsLarge(frame))
        {
            s.Rip = x.Rip;
            return new SvmExit.Npf(frame, SizeMismatch: true);
        }

        s.Gpr[0] = rmp.SetVmsa(frame, (attrs & RmpadjustVmsa) != 0) ? 0 : RmpadjustFailInput;
        return null;
    }
}
