namespace CocoLaunch.Kvm;

/// <summary>
/// The MSRs KVM itself emulates (<c>kvm_get_msr_common</c>/<c>kvm_set_msr_common</c>), whether a plain guest's RDMSR
/// exits or a confidential guest asks the host for one (TDVMCALL Instruction.RDMSR/WRMSR, GHCB NAE 0x7C): the local APIC
/// base, the microcode revision, IA32_MISC_ENABLE and the MTRR interface.
/// Everything else fails, which the TDX guest sees as INVALID_OPERAND and the SNP guest as an injected #GP.
/// </summary>
public sealed class KvmMsrs(uint vcpuId)
{
    public const uint ApicBase = 0x1B, UcodeRev = 0x8B, MtrrCap = 0xFE, MiscEnable = 0x1A0, MtrrDefType = 0x2FF;

    /// <summary>MSR_AMD64_SYSCFG: arch/x86/kvm/x86.c kvm_get_msr_common reads it as 0 (Linux's AMD init reads it for SME and TOM2).</summary>
    public const uint AmdSyscfg = 0xC001_0010;

    /// <summary>kvm_vcpu_reset's microcode_version: revision 1 in EDX, as KVM presents any guest CPU.</summary>
    public const ulong MicrocodeVersion = 0x1_0000_0000;

    // kvm_vcpu_reset: PEBS and BTS unavailable; the MTRRs start disabled.
    private ulong miscEnable = 0x1800, mtrrDefType;

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
            _ => 0, // AmdSyscfg too
        };
        if (IsVariableMtrr(index) || IsFixedMtrr(index))
        {
            value = mtrrs.GetValueOrDefault(index);
            return true;
        }

        return index is ApicBase or UcodeRev or MtrrCap or MiscEnable or MtrrDefType or AmdSyscfg;
    }

    public bool TryWrite(uint index, ulong value)
    {
        switch (index)
        {
            case ApicBase:
                return value == ApicBaseValue; // relocating or disabling the APIC is not modelled
            case UcodeRev:
                return true; // the guest's write is accepted and dropped; only userspace sets the revision
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
