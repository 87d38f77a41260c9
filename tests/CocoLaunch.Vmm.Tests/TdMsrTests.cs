using CocoLaunch.Kvm;
using Iced.Intel;
using static CocoLaunch.Vmm.Tests.TdHarness;
using static Iced.Intel.AssemblerRegisters;

namespace CocoLaunch.Vmm.Tests;

/// <summary>
/// RDMSR and WRMSR in a TD as the TDX module virtualizes them (intel/tdx-module tdx_1.5,
/// include/auto_gen/msr_config_lookup.c and td_msr_access.c): native accesses (the x2APIC registers of the virtual
/// APIC page among them), #VE, #GP, and the values the module computes. The TD is the tdx-4k sample's
/// (ATTRIBUTES SEPT_VE_DISABLE only: no PERFMON, no PKS; XFAM 0x602E7: no PT, CET, ULI or LBR).
/// </summary>
public sealed class TdMsrTests
{
    private const ulong NoException = 0xAA;

    [Theory]
    [InlineData(0x1A0u, 0x1800UL)]      // IA32_MISC_ENABLE without PERFMON: the platform's, PERFMON_AVAILABLE clear, PEBS_UNAVAILABLE set
    [InlineData(0xBDu, 1UL)]            // IA32_XAPIC_DISABLE_STATUS: LEGACY_XAPIC_DISABLED
    [InlineData(0x345u, 0UL)]           // IA32_PERF_CAPABILITIES without PERFMON
    [InlineData(0x80Au, 0UL)]           // x2APIC PPR: the virtual-APIC page, no #VE
    [InlineData(0x808u, 0UL)]           // x2APIC TPR
    public void Rdmsr_TheModuleOrTheVirtualApicAnswers_NoVe(uint msr, ulong expected)
    {
        var h = Run(a => a.rdmsr(), msr);
        Assert.Equal((NoException, expected), (h.Gpr[13], h.Gpr[12]));
    }

    [Theory]
    [InlineData(0x1Bu, 31UL)]           // IA32_APIC_BASE: not in the bitmap, so #VE
    [InlineData(0xC000_0083u, 31UL)]    // IA32_CSTAR: not in the bitmap either
    [InlineData(0x802u, 31UL)]          // x2APIC ID: not virtualized, so KVM answers through TDG.VP.VMCALL
    [InlineData(0x4B56_4D00u, 31UL)]    // a KVM paravirtual MSR
    public void Rdmsr_OutsideTheModule_IsAVeWithReason31(uint msr, ulong reason)
    {
        var h = Run(a => a.rdmsr(), msr);
        Assert.Equal((20UL, reason), (h.Gpr[13], h.Gpr[6]));
    }

    [Theory]
    [InlineData(0x800u)]                // reserved x2APIC
    [InlineData(0xC1u)]                 // IA32_PMC0 without PERFMON
    [InlineData(0x570u)]                // IA32_RTIT_CTL without XFAM PT
    [InlineData(0x6E1u)]                // IA32_PKRS without PKS
    [InlineData(0x9Bu)]                 // IA32_SMM_MONITOR_CTL
    [InlineData(0x6E0u)]                // IA32_TSC_DEADLINE on a vCPU type without the TSC-deadline timer (qemu64)
    public void Rdmsr_NotForATd_IsGp(uint msr)
    {
        var h = Run(a => a.rdmsr(), msr);
        Assert.Equal(13UL, h.Gpr[13]);
    }

    [Fact]
    public void TscDeadline_WithTheTimerInTheTdsCpuid_IsAVe()
    {
        // GP_OR_VE: #VE when CPUID.1:ECX[24] (kvm-intel has it), #GP without (the qemu64 case above).
        var h = Run(a => a.wrmsr(), 0x6E0, 1000, Boot.VcpuType.KvmIntel);
        Assert.Equal((20UL, 32UL), (h.Gpr[13], h.Gpr[6]));
    }

    [Fact]
    public void WrmsrTpr_IsTheApicsTpr_WithoutAVe()
    {
        var h = Run(a => a.wrmsr(), 0x808, 0x20);
        Assert.Equal(NoException, h.Gpr[13]);
        Assert.True(h.Vcpu.Apic!.TryReadMsr(0x808, out ulong tpr));
        Assert.Equal(0x20UL, tpr);
    }

    [Theory]
    [InlineData(0x10u, 0UL, 20UL)]          // IA32_TIME_STAMP_COUNTER: reads native, writes #VE
    [InlineData(0xC000_0080u, 0xD01UL, 0xAAUL)] // EFER with SCE unchanged: the module accepts
    [InlineData(0xC000_0080u, 0x500UL, 20UL)]   // EFER clearing NXE: only SCE may change, else #VE
    [InlineData(0x1D9u, 0x40UL, 20UL)]      // DEBUGCTL TR without BTS: a debug TD only, else #VE
    [InlineData(0x1D9u, 0x1UL, 0xAAUL)]     // DEBUGCTL LBR
    [InlineData(0x1D9u, 0x4UL, 13UL)]       // DEBUGCTL reserved bit 2
    public void Wrmsr_TheModulesChecks(uint msr, ulong value, ulong outcome)
    {
        var h = Run(a => a.wrmsr(), msr, value);
        Assert.Equal(outcome, h.Gpr[13]);
        if (outcome == 20)
        {
            Assert.Equal(32UL, h.Gpr[6]); // VEINFO.GET: reason WRMSR
        }
    }

    [Fact]
    public void Efer_SceToggle_IsKept_AndReadsBackNatively()
    {
        var h = Run(a =>
        {
            a.wrmsr();
            a.rdmsr();
        }, 0xC000_0080, 0xD00);
        Assert.Equal((NoException, 0xD00UL), (h.Gpr[13], h.Gpr[12]));
    }

    [Fact]
    public void DebugCtl_WrittenThenRead_KeptByTheModule()
    {
        var h = Run(a =>
        {
            a.wrmsr();
            a.rdmsr();
        }, 0x1D9, 0x1);
        Assert.Equal((NoException, 1UL), (h.Gpr[13], h.Gpr[12]));
    }

    [Fact]
    public void TdvmcallHlt_WakesOnTheApicTimer_AndTheInterruptIsTaken()
    {
        // The timer programmed through TDG.VP.VMCALL<WRMSR> (x2APIC LVT timer and initial count are not
        // virtualized), then STI and TDG.VP.VMCALL<HLT>: KVM blocks the vCPU until the timer fires, and the TD
        // takes vector 0x40, whose handler EOIs through the virtual-APIC page (native WRMSR 0x80B).
        var h = Create(a =>
        {
            var timer = a.CreateLabel();
            var start = a.CreateLabel();
            a.jmp(start);
            a.Label(ref timer);
            a.mov(r14, 0x40);
            a.xor(eax, eax);
            a.xor(edx, edx);
            a.mov(ecx, 0x80B);
            a.wrmsr();
            a.iretq();
            a.Label(ref start);
            InstallIdt(a, timer, 0x40);
            a.mov(r12, 0x80F); // spurious-interrupt vector register: software-enable the APIC
            a.mov(r13, 0x1FF);
            Tdvmcall(a, 32);
            a.mov(r12, 0x832); // LVT timer: one-shot, vector 0x40
            a.mov(r13, 0x40);
            Tdvmcall(a, 32);
            a.mov(r12, 0x838); // initial count
            a.mov(r13, 100_000);
            Tdvmcall(a, 32);
            a.xor(r14d, r14d);
            a.sti();
            a.xor(r12d, r12d); // interrupts not blocked
            Tdvmcall(a, 12);
            a.cli();
        });
        Assert.IsType<KvmExit.Hlt>(h.Vcpu.Run());
        Assert.Equal(0x40UL, h.Gpr[14]);
    }

    /// <summary>
    /// Runs <paramref name="access"/> with ECX = <paramref name="msr"/> and EDX:EAX = <paramref name="value"/>. Then R12
    /// holds EDX:EAX and R13 0xAA; or R13 holds the vector a #VE (20) or #GP (13) handler saw, and RSI the #VE reason.
    /// </summary>
    private static TdHarness Run(Action<Assembler> access, uint msr, ulong value = 0, Boot.VcpuType? vcpuType = null)
    {
        var h = Create(a =>
        {
            var ve = a.CreateLabel();
            var gp = a.CreateLabel();
            var start = a.CreateLabel();
            a.jmp(start);
            a.Label(ref ve);
            a.mov(eax, 3);
            Tdcall(a);
            a.mov(rsi, rcx);
            a.mov(r13, 20);
            TdvmcallHlt(a);
            a.Label(ref gp);
            a.mov(r13, 13);
            TdvmcallHlt(a);
            a.Label(ref start);
            InstallIdt(a, ve, 20);
            InstallGate(a, gp, 13);
            a.mov(ecx, msr);
            a.mov(eax, (uint)value);
            a.mov(edx, (uint)(value >> 32));
            access(a);
            a.shl(rdx, 32);
            a.mov(eax, eax);
            a.or(rax, rdx);
            a.mov(r12, rax);
            a.mov(r13, NoException);
        });
        if (vcpuType is { } type)
        {
            h.Vcpu.SetCpuid2(Boot.CpuidModel.Entries(type));
        }

        Assert.IsType<KvmExit.Hlt>(h.Vcpu.Run());
        return h;
    }
}
