using CocoLaunch.Cpu;

namespace CocoLaunch.Firmware.Tdx;

/// <summary>The MSRs a TD reaches without a TD exit that the CPU model does not hold itself.</summary>
public interface ITdNativeMsrs
{
    bool TryRead(uint index, out ulong value);

    bool TryWrite(uint index, ulong value);
}

/// <summary>
/// RDMSR and WRMSR in a TD, after the module's MSR bitmap and exit handling (<see cref="TdMsrVirtualization"/>;
/// td_msr_access.c for the values the module computes).
/// </summary>
public sealed partial class TdGuestCpu
{
    private const ulong EferSce = 1, EferLma = 1UL << 10;

    // IA32_DEBUGCTL: bits 2-5 and 16-63 reserved; TR (6) without BTS (7) needs a debug TD; bit 13 (uncore PMI) is the module's.
    private const ulong DebugCtlReserved = 0x3CUL | ~0xFFFFUL, DebugCtlTr = 1 << 6, DebugCtlBts = 1 << 7, DebugCtlUncorePmi = 1 << 13;

    private void Msr(IGuestCpu c, CpuExit.InstructionExit x)
    {
        var s = c.State;
        uint index = (uint)s.Gpr[Rcx];
        bool write = x.Instruction == ExitInstruction.Wrmsr;
        ulong value = ((s.Gpr[Rdx] & 0xFFFF_FFFF) << 32) | (s.Gpr[Rax] & 0xFFFF_FFFF);
        switch (TdMsrVirtualization.Classify(index, write, FeatureEnabled))
        {
            case TdMsrAction.Native:
                Native(c, x, index, write, value);
                return;
            case TdMsrAction.Ve:
                InjectVe(c, write ? TdxVeReason.Wrmsr : TdxVeReason.Rdmsr, 0, 0, x);
                return;
            case TdMsrAction.GpOrVe when index == TdMsrVirtualization.TscDeadline && (cpuid(1, 0).Ecx & (1u << 24)) != 0:
                InjectVe(c, write ? TdxVeReason.Wrmsr : TdxVeReason.Rdmsr, 0, 0, x);
                return;
            case TdMsrAction.Module:
                ModuleMsr(c, x, index, write, value);
                return;
            default:
                // #GP, and GP_OR_VE for DCA, TME and MKTME, which this module does not offer a TD.
                c.InjectException(Vector.GeneralProtection, 0, x);
                return;
        }
    }

    private void Native(IGuestCpu c, CpuExit.InstructionExit x, uint index, bool write, ulong value)
    {
        if (write ? nativeMsrs.TryWrite(index, value) : nativeMsrs.TryRead(index, out value))
        {
            Complete(c.State, write, value);
            return;
        }

        c.InjectException(Vector.GeneralProtection, 0, x);
    }

    /// <summary>The accesses the module answers itself (td_msr_access.c): virtual values, and the writes it checks.</summary>
    private void ModuleMsr(IGuestCpu c, CpuExit.InstructionExit x, uint index, bool write, ulong value)
    {
        var s = c.State;
        switch (index, write)
        {
            case (TdMsrVirtualization.XapicDisableStatus, false):
                Complete(s, write, 1); // LEGACY_XAPIC_DISABLED: a TD's APIC is x2APIC only
                return;
            case (TdMsrVirtualization.MiscEnable, false):
                // The platform's value with PERFMON_AVAILABLE (7) clear and PEBS_UNAVAILABLE (12) set.
                nativeMsrs.TryRead(index, out ulong misc);
                Complete(s, write, (misc & ~(1UL << 7)) | (1UL << 12));
                return;
            case (TdMsrVirtualization.PerfCapabilities, false):
                Complete(s, write, 0); // without PERFMON
                return;
            case (TdMsrVirtualization.ArchCapabilities, false):
                // Computed at TDH.MNG.INIT from the platform's value; the model's platform has none of its bits.
                Complete(s, write, nativeMsrs.TryRead(index, out ulong caps) ? caps : 0);
                return;
            case (TdMsrVirtualization.DebugCtl, false):
                Complete(s, write, vcpu.DebugCtl & ~DebugCtlUncorePmi);
                return;
            case (TdMsrVirtualization.DebugCtl, true):
                if ((value & DebugCtlReserved) != 0)
                {
                    break;
                }

                if ((value & (DebugCtlTr | DebugCtlBts)) == DebugCtlTr)
                {
                    InjectVe(c, TdxVeReason.Wrmsr, 0, 0, x);
                    return;
                }

                vcpu.DebugCtl = (value & ~DebugCtlUncorePmi) | (vcpu.DebugCtl & DebugCtlUncorePmi);
                Complete(s, write, 0);
                return;
            case (TdMsrVirtualization.Efer, true):
                // Only SCE may change, and LMA is read-only; any other change is a #VE.
                ulong kept = (s.Efer & ~EferSce) | (value & EferSce);
                if (((value ^ s.Efer) & ~(EferSce | EferLma)) != 0)
                {
                    InjectVe(c, TdxVeReason.Wrmsr, 0, 0, x);
                    return;
                }

                s.Efer = kept;
                Complete(s, write, 0);
                return;
            case (TdMsrVirtualization.Xss, true):
                // Only bits the TD's XFAM allows.
                if ((value & ~(td.Params?.Xfam ?? 0)) != 0)
                {
                    break;
                }

                Native(c, x, index, write, value);
                return;
        }

        // The VMX capability MSRs (TD partitioning) are not modelled: #GP, as for a TD without nested VMs.
        c.InjectException(Vector.GeneralProtection, 0, x);
    }

    private static void Complete(CpuState s, bool write, ulong value)
    {
        // RIP is already past the instruction (CpuExit.InstructionExit).
        if (!write)
        {
            s.Gpr[Rax] = value & 0xFFFF_FFFF;
            s.Gpr[Rdx] = value >> 32;
        }
    }

    /// <summary>Whether the TD's configuration makes a dynamically intercepted MSR native.</summary>
    public bool FeatureEnabled(TdMsrFeature feature)
    {
        ulong attributes = td.Params?.Attributes ?? 0, xfam = td.Params?.Xfam ?? 0;
        return feature switch
        {
            TdMsrFeature.Perfmon => (attributes & (1UL << 63)) != 0,
            TdMsrFeature.Pks => (attributes & (1UL << 30)) != 0,
            TdMsrFeature.XfamPt => (xfam & (1UL << 8)) != 0,
            TdMsrFeature.XfamCet => (xfam & (3UL << 11)) == (3UL << 11),
            TdMsrFeature.XfamUli => (xfam & (1UL << 14)) != 0,
            TdMsrFeature.XfamLbr => (xfam & (1UL << 15)) != 0,
            TdMsrFeature.Tsx => (cpuid(7, 0).Ebx & ((1u << 4) | (1u << 11))) != 0,
            TdMsrFeature.Umwait => (cpuid(7, 0).Ecx & (1u << 5)) != 0,
            TdMsrFeature.Xfd => (cpuid(0xD, 1).Eax & (1u << 4)) != 0,
            _ => false,
        };
    }
}
