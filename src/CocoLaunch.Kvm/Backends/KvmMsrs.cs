namespace CocoLaunch.Kvm;

/// <summary>
/// The MSRs KVM itself emulates when a confidential guest asks the host for one (TDVMCALL Instruction.RDMSR/WRMSR,
/// GHCB NAE 0x7C): the local APIC base, IA32_MISC_ENABLE and the MTRR interface (<c>kvm_get_msr_common</c>).
/// Everything else fails, which the TDX guest sees as INVALID_OPERAND and the SNP guest as an injected #GP.
/// </summary>
public sealed class KvmMsrs(uint vcpuId)
{
    public const uint ApicBase = 0x1B, MtrrCap = 0xFE, MiscEnable = 0x1A0, MtrrDefType = 0x2FF;

    // kvm_vcpu_reset: PEBS and BTS unavailable; the MTRRs start disabled.
    private ulong miscEnable = 0x1800, mtrrDefType;

    /// <summary>xAPIC enabled at 0xFEE00000; the BSP flag on vCPU 0.</summary>
    private ulong ApicBaseValue => 0xFEE0_0000UL | 0x800 | (vcpuId == 0 ? 0x100UL : 0);

    public bool TryRead(uint index, out ulong value)
    {
        value = index switch
        {
            ApicBase => ApicBaseValue,
            MtrrCap => 0x500 | 8, // fixed-range MTRRs and write-combining, 8 variable ranges (KVM_NR_VAR_MTRR)
            MiscEnable => miscEnable,
            MtrrDefType => mtrrDefType,
            _ => 0,
        };
        return index is ApicBase or MtrrCap or MiscEnable or MtrrDefType;
    }

    public bool TryWrite(uint index, ulong value)
    {
        switch (index)
        {
            case ApicBase:
                return value == ApicBaseValue; // relocating or disabling the APIC is not modelled
            case MiscEnable:
                miscEnable = value;
                return true;
            case MtrrDefType:
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
