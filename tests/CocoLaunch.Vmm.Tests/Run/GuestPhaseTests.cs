using CocoLaunch.Cpu;
using CocoLaunch.Vmm.Run;

namespace CocoLaunch.Vmm.Tests.Run;

/// <summary>The progress line's phase, from the BSP's state: the places OVMF and Linux run on x86.</summary>
public sealed class GuestPhaseTests
{
    private static readonly (ulong, ulong) Flash = (0xFFC0_0000, 1UL << 32);

    [Fact]
    public void TheResetStates_AreTheResetVector()
    {
        Assert.Equal("firmware reset vector", GuestPhase.Of(CpuState.LegacyReset(), Flash)); // F000:FFF0 is 0xFFFFFFF0
        Assert.Equal("firmware reset vector", GuestPhase.Of(CpuState.TdxReset(0x809000, 0, 0x806F8), Flash));
    }

    [Theory]
    [InlineData(0xFFFD_261FUL, 0, "firmware in flash (SEC)")] // Debian OVMF 2025.02's SecMain
    [InlineData(0x7F6A_1234UL, 0, "firmware in RAM (PEI, DXE, BDS) or boot loader")]
    [InlineData(0xFFFF_FFFF_8100_0000UL, 0, "kernel")] // Linux's text mapping
    [InlineData(0x0040_1000UL, 3, "user space")]
    public void LongMode_IsToldByWhereRipIs_AndTheCpl(ulong rip, int cpl, string phase)
    {
        var s = CpuState.TdxReset(0, 0, 0);
        s.Cr0 |= 1UL << 31;
        s.Efer |= 1UL << 10; // LMA
        s.Segments[(int)SegmentName.Cs].Attributes = (ushort)(0xA9B | (cpl << 5));
        s.Rip = rip;
        Assert.Equal(phase, GuestPhase.Of(s, Flash));
    }

    [Fact]
    public void Mips_IsInstructionsPerSecondInMillions() =>
        Assert.Equal(96.0, new RunProgress(3_840_000_000, TimeSpan.FromSeconds(40), "kernel").Mips, 6);
}
