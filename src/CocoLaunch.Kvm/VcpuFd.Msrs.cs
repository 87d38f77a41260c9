namespace CocoLaunch.Kvm;

/// <summary>
/// The MSRs KVM itself emulates when a confidential guest asks the host for one (TDVMCALL Instruction.RDMSR/WRMSR,
/// GHCB NAE 0x7C): the local APIC base, IA32_MISC_ENABLE and the MTRR interface (<c>kvm_get_msr_common</c>).
/// Everything else fails, which the TDX guest sees as INVALID_OPERAND and the SNP guest as an injected #GP.
/// </summary>
public sealed partial class VcpuFd
{
    public const uint MsrApicBase = 0x1B, MsrMtrrCap = 0xFE, MsrMiscEnable = 0x1A0, MsrMtrrDefType = 0x2FF;

    // kvm_vcpu_reset: PEBS and BTS unavailable; the MTRRs start disabled.
    private ulong miscEnable = 0x1800, mtrrDefType;

    /// <summary>xAPIC enabled at 0xFEE00000; the BSP flag on vCPU 0.</summary>
    private ulong ApicBase => 0xFEE0_0000UL | 0x800 | (Id == 0 ? 0x100UL : 0);

    private bool TryReadKvmMsr(uint index, out ulong value)
    {
        value = index switch
        {
            MsrApicBase => ApicBase,
            MsrMtrrCap => 0x500 | 8, // fixed-range MTRRs and write-combining, 8 variable ranges (KVM_NR_VAR_MTRR)
            MsrMiscEnable => miscEnable,
            MsrMtrrDefType => mtrrDefType,
            _ => 0,
        };
        return index is MsrApicBase or MsrMtrrCap or MsrMiscEnable or MsrMtrrDefType;
    }

    private bool TryWriteKvmMsr(uint index, ulong value)
    {
        switch (index)
        {
            case MsrApicBase:
                return value == ApicBase; // relocating or disabling the APIC is not modelled
            case MsrMiscEnable:
                miscEnable = value;
                return true;
            case MsrMtrrDefType:
                // Type in [7:0] (UC, WC, WT, WP or WB), FE bit 10, E bit 11; nothing else.
                if ((value & ~0xCFFUL) != 0 || (value & 0xFF) is not (0 or 1 or 4 or 5 or 6))
                {
                    return false;
                }

                mtrrDefType = value;
                return true;
            default:
                return false;
        }
    }
}
