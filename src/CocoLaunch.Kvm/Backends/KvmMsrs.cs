namespace CocoLaunch.Kvm;

/// <summary>
/// The MSRs KVM itself emulates (<c>kvm_get_msr_common</c>/<c>kvm_set_msr_common</c>), whether a plain guest's RDMSR
/// exits or a confidential guest asks the host for one (TDVMCALL Instruction.RDMSR/WRMSR, GHCB NAE 0x7C): the local APIC
/// base, the microcode revision, IA32_MISC_ENABLE, the MTRR interface and AMD's SYSCFG, HWCR and NB_CFG.
/// Everything else fails, which the TDX guest sees as INVALID_OPERAND and the SNP guest as an injected #GP.
/// </summary>
public sealed class KvmMsrs(uint vcpuId)
{
    public const uint ApicBase = 0x1B, UcodeRev = 0x8B, MtrrCap = 0xFE, MiscEnable = 0x1A0, MtrrDefType = 0x2FF;

    /// <summary>MSR_AMD64_SYSCFG: arch/x86/kvm/x86.c kvm_get_msr_common reads it as 0 (Linux's AMD init reads it for SME and TOM2).</summary>
    public const uint AmdSyscfg = 0xC001_0010;

    /// <summary>
    /// MSR_K7_HWCR: kvm_get_msr_common returns vcpu->arch.msr_hwcr, 0 until written, so Linux's AMD init reads it
    /// (bsp_init_amd) and reports that TSC does not count at P0 frequency, as on any KVM guest.
    /// </summary>
    public const uint AmdHwcr = 0xC001_0015;

    /// <summary>
    /// MSR_AMD64_NB_CFG: a legacy MSR kvm_get_msr_common reads as 0 and kvm_set_msr_common drops writes to; Linux sets
    /// its EnableCf8ExtCfg bit on AMD families 10h-18h (enable_pci_io_ecs).
    /// </summary>
    public const uint AmdNbCfg = 0xC001_001F;

    /// <summary>kvm_set_msr_common ignores these HWCR bits (TLB cache, flush filter and IGNNE disables) ...</summary>
    private const ulong HwcrIgnored = 0x8 | 0x40 | 0x100;

    /// <summary>... and keeps McStatusWrEn (bit 18) and TscFreqSel (bit 24); any other bit fails the write.</summary>
    private const ulong HwcrKept = (1UL << 18) | (1UL << 24);

    /// <summary>kvm_vcpu_reset's microcode_version: revision 1 in EDX, as KVM presents any guest CPU.</summary>
    public const ulong MicrocodeVersion = 0x1_0000_0000;

    // kvm_vcpu_reset: PEBS and BTS unavailable; the MTRRs start disabled.
    private ulong miscEnable = 0x1800, mtrrDefType, hwcr;

    // kvm_mtrr_get_msr/set_msr: the 8 variable ranges (PHYSBASE/PHYSMASK pairs 0x200-0x20F) and the 11 fixed-range
    // MTRRs (64K at 0x250, 16K at 0x258-0x259, 4K at 0x268-0x26F), all zero (UC) at reset.
    private readonly Dictionary<uint, ulong> mtrrs = [];

    private static bool IsVariableMtrr(uint index) => index is >= 0x200 and <= 0x20F;

    private static bool IsFixedMtrr(uint index) => index is 0x250 or 0x258 or 0x259 or (>= 0x268 and <= 0x26F);

    /// <summary>A memory type an MTRR may hold: UC, WC, WT, WP or WB.</summary>
    private static bool ValidType(ulong type) => type is 0 or 1 or 4 or 5 or 6;

    /// <summary>xAPIC enabled at 0xFEE00000; the BSP flag on vCPU 0.</summary>
    private ulong ApicBaseValue => 0xFEE0_0000UL | 0x800 | (vcpuId == 0 ? 0x100UL : 0);

    public bool TryRead(uint index, out ulong value)
    {
        value = index switch
        {
            ApicBase => ApicBaseValue,
            UcodeRev => MicrocodeVersion,
            MtrrCap => 0x500 | 8, // fixed-range MTRRs and write-combining, 8 variable ranges (KVM_NR_VAR_MTRR)
            MiscEnable => miscEnable,
            MtrrDefType => mtrrDefType,
            AmdHwcr => hwcr,
            _ => 0, // AmdSyscfg and AmdNbCfg too
        };
        if (IsVariableMtrr(index) || IsFixedMtrr(index))
        {
            value = mtrrs.GetValueOrDefault(index);
            return true;
        }

        return index is ApicBase or UcodeRev or MtrrCap or MiscEnable or MtrrDefType or AmdSyscfg or AmdHwcr or AmdNbCfg;
    }

    public bool TryWrite(uint index, ulong value)
    {
        switch (index)
        {
            case ApicBase:
                return value == ApicBaseValue; // relocating or disabling the APIC is not modelled
            case UcodeRev or AmdNbCfg:
                return true; // the guest's write is accepted and dropped; only userspace sets the revision
            case MiscEnable:
                miscEnable = value;
                return true;
            case AmdHwcr:
                value &= ~HwcrIgnored;
                if ((value & ~HwcrKept) != 0)
                {
                    return false;
                }

                hwcr = value;
                return true;
            case MtrrDefType:
                // Type in [7:0] (UC, WC, WT, WP or WB), FE bit 10, E bit 11; nothing else.
                if ((value & ~0xCFFUL) != 0 || (value & 0xFF) is not (0 or 1 or 4 or 5 or 6))
                {
                    return false;
                }

                mtrrDefType = value;
                return true;
            case var fixedRange when IsFixedMtrr(fixedRange):
                // Eight one-byte types, each valid.
                for (int i = 0; i < 8; i++)
                {
                    if (!ValidType((value >> (8 * i)) & 0xFF))
                    {
                        return false;
                    }
                }

                mtrrs[index] = value;
                return true;
            case var variable when IsVariableMtrr(variable):
                // PHYSBASE: a valid type in [7:0], bits 11:8 reserved; PHYSMASK: bits 10:0 reserved (bit 11 = valid).
                bool isBase = (index & 1) == 0;
                if (isBase ? !ValidType(value & 0xFF) || (value & 0xF00) != 0 : (value & 0x7FF) != 0)
                {
                    return false;
                }

                mtrrs[index] = value;
                return true;
            default:
                return false;
        }
    }
}
