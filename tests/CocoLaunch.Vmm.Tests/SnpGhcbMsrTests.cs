using CocoLaunch.Kvm;
using static CocoLaunch.Vmm.Tests.SnpHarness;

namespace CocoLaunch.Vmm.Tests;

/// <summary>
/// The GHCB MSR event (NAE 0x7C, guest-abi.md §5.3) on the KVM model: the MSRs KVM emulates answer in RAX/RDX, any
/// other gets an injected #GP, and missing registers are refused.
/// </summary>
public sealed class SnpGhcbMsrTests
{
    private const int Rax = 0x1F8, Rcx = 0x308, Rdx = 0x310;

    private static (ulong Info1, ulong Info2) Event(SnpHarness h, ulong info1, params (int, ulong)[] fields)
    {
        h.WriteGhcb(SevVcpuBackend.NaeMsr, info1, 0, rax: null, fields);
        Assert.IsType<KvmExit.Hlt>(h.Bsp.Run());
        return h.GhcbResult();
    }

    [Fact]
    public void Read_ApicBase_InEdxEax()
    {
        var h = Create();
        Assert.Equal((0UL, 0UL), Event(h, 0, (Rcx, 0x1B)));
        Assert.Equal((0xFEE0_0900UL, 0UL), (h.GhcbField(Rax), h.GhcbField(Rdx)));
    }

    [Fact]
    public void Read_AnMsrKvmDoesNotEmulate_InjectsGp()
    {
        var h = Create();
        Assert.Equal((1UL, 0x8000_030DUL), Event(h, 0, (Rcx, 0x123))); // no architectural MSR at 0x123
    }

    [Fact]
    public void Read_AmdSyscfg_IsZero()
    {
        // arch/x86/kvm/x86.c kvm_get_msr_common: MSR_AMD64_SYSCFG is among the MSRs KVM reads as 0.
        var h = Create();
        Assert.Equal((0UL, 0UL), Event(h, 0, (Rcx, 0xC001_0010)));
        Assert.Equal((0UL, 0UL), (h.GhcbField(Rax), h.GhcbField(Rdx)));
    }

    [Fact]
    public void Hwcr_ReadsZero_KeepsMcStatusWrEn_AndRefusesOtherBits()
    {
        // arch/x86/kvm/x86.c: kvm_get_msr_common returns msr_hwcr (0 after reset); kvm_set_msr_common drops bits 3, 6
        // and 8, keeps 18 and 24, and fails any other. Linux's bsp_init_amd reads it on every AMD guest.
        var h = Create();
        Assert.Equal((0UL, 0UL), Event(h, 0, (Rcx, 0xC001_0015)));
        Assert.Equal((0UL, 0UL), (h.GhcbField(Rax), h.GhcbField(Rdx)));
        h.Bsp.SetCpu(LongMode(Code), Cpu.CpuVendor.Amd);
        Assert.Equal((0UL, 0UL), Event(h, 1, (Rcx, 0xC001_0015), (Rax, (1UL << 18) | 0x148), (Rdx, 0)));
        h.Bsp.SetCpu(LongMode(Code), Cpu.CpuVendor.Amd);
        Assert.Equal((0UL, 0UL), Event(h, 0, (Rcx, 0xC001_0015)));
        Assert.Equal(1UL << 18, h.GhcbField(Rax));
        h.Bsp.SetCpu(LongMode(Code), Cpu.CpuVendor.Amd);
        Assert.Equal((1UL, 0x8000_030DUL), Event(h, 1, (Rcx, 0xC001_0015), (Rax, 1UL << 1), (Rdx, 0)));
    }

    [Fact]
    public void NbCfg_ReadsZero_AndDropsWrites()
    {
        // arch/x86/kvm/x86.c: MSR_AMD64_NB_CFG is read as 0 and its writes are ignored; Linux writes EnableCf8ExtCfg.
        var h = Create();
        Assert.Equal((0UL, 0UL), Event(h, 1, (Rcx, 0xC001_001F), (Rax, 0), (Rdx, 0x4000)));
        h.Bsp.SetCpu(LongMode(Code), Cpu.CpuVendor.Amd);
        Assert.Equal((0UL, 0UL), Event(h, 0, (Rcx, 0xC001_001F)));
        Assert.Equal((0UL, 0UL), (h.GhcbField(Rax), h.GhcbField(Rdx)));
    }

    [Fact]
    public void Write_MtrrDefType_ThenReadBack()
    {
        var h = Create();
        Assert.Equal((0UL, 0UL), Event(h, 1, (Rcx, 0x2FF), (Rax, 0x806), (Rdx, 0)));
        h.Bsp.SetCpu(LongMode(Code), Cpu.CpuVendor.Amd);
        Assert.Equal((0UL, 0UL), Event(h, 0, (Rcx, 0x2FF)));
        Assert.Equal(0x806UL, h.GhcbField(Rax));
    }

    [Fact]
    public void Write_WithoutRdx_MissingInput()
    {
        var h = Create();
        Assert.Equal((2UL, 4UL), Event(h, 1, (Rcx, 0x2FF), (Rax, 0x806)));
    }
}
