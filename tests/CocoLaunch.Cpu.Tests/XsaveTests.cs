using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CocoLaunch.Cpu.Tests;

/// <summary>XSAVE/XRSTOR in the standard form for x87 and SSE (SDM Vol. 1, 13.7–13.8), and FXSAVE's legacy region.</summary>
public sealed class XsaveTests
{
    private const ulong Area = LongModeMachine.ScratchAddress + 0x400; // 64-byte aligned

    [Fact]
    public void Xsave_WritesLegacyRegionAndHeader_XrstorRestores()
    {
        using var m = Machine();
        m.State.Xmm[0] = 0x1111_2222_3333_4444;
        m.State.Xmm[31] = 0xAAAA_BBBB_CCCC_DDDD;
        m.State.Mxcsr = 0x1FA0;
        m.State.FpuControl = 0x027F;
        var exit = m.Run(a =>
        {
            a.mov(eax, 3);
            a.xor(edx, edx);
            a.xsave64(__[rsi]);
            a.pxor(xmm0, xmm0);
            a.pxor(xmm15, xmm15);
            a.xrstor64(__[rsi]);
        });
        Assert.IsType<CpuExit.Halt>(exit);
        Assert.Equal(0x1111_2222_3333_4444UL, m.State.Xmm[0]);
        Assert.Equal(0xAAAA_BBBB_CCCC_DDDDUL, m.State.Xmm[31]);
        Assert.Equal(0x027FUL, Read(m, 0, 2));
        Assert.Equal(0x1FA0UL, Read(m, 24, 4)); // MXCSR
        Assert.Equal(0xFFFFUL, Read(m, 28, 4)); // MXCSR_MASK
        Assert.Equal(0x1111_2222_3333_4444UL, Read(m, 160, 8)); // XMM0
        Assert.Equal(0xAAAA_BBBB_CCCC_DDDDUL, Read(m, 160 + (15 * 16) + 8, 8)); // XMM15, high half
        Assert.Equal(3UL, Read(m, 512, 8)); // XSTATE_BV
    }

    [Fact]
    public void Xsave_OnlyTheRequestedFeatureBitmap()
    {
        using var m = Machine();
        m.State.Xmm[0] = 0x1234;
        m.Run(a =>
        {
            a.mov(eax, 1); // x87 only: no XMM, no MXCSR
            a.xor(edx, edx);
            a.xsave64(__[rsi]);
        });
        Assert.Equal(0UL, Read(m, 160, 8));
        Assert.Equal(0UL, Read(m, 24, 4));
        Assert.Equal(1UL, Read(m, 512, 8));
    }

    [Fact]
    public void Xrstor_ComponentNotInXstateBv_IsInitialised_ButMxcsrStillLoads()
    {
        using var m = Machine();
        m.State.Xmm[4] = 0x55;
        m.Ram.Write(Area + 24, BitConverter.GetBytes(0x1F00u));
        m.Run(a =>
        {
            a.mov(eax, 3);
            a.xor(edx, edx);
            a.xrstor64(__[rsi]); // XSTATE_BV = 0
        });
        Assert.Equal(0UL, m.State.Xmm[4]);
        Assert.Equal(0x1F00u, m.State.Mxcsr);
        Assert.Equal((ushort)0x037F, m.State.FpuControl);
    }

    [Theory]
    [InlineData(16UL, 0UL, 13)] // misaligned area: #GP(0)
    [InlineData(0UL, 1UL, 13)] // XCOMP_BV != 0: the compacted form is not supported
    public void Xrstor_BadAreaOrHeader_IsGeneralProtection(ulong offset, ulong xcompBv, int vector)
    {
        using var m = Machine();
        m.Ram.Write(Area + offset + 520, BitConverter.GetBytes(xcompBv));
        m.State.Gpr[6] = Area + offset;
        var exit = m.Run(a =>
        {
            a.mov(eax, 3);
            a.xor(edx, edx);
            a.xrstor64(__[rsi]);
        });
        Assert.Equal(0x5000UL + (ulong)vector + 1, Assert.IsType<CpuExit.Halt>(exit).Rip);
    }

    [Fact]
    public void XsaveAndXgetbv_WithoutOsXsave_AreInvalidOpcodes()
    {
        foreach (Action<Assembler> code in new Action<Assembler>[] { a => a.xsave64(__[rsi]), a => a.xgetbv() })
        {
            using var m = Machine();
            m.State.Cr4 &= ~CpuState.Cr4OsXsave;
            Assert.Equal(0x5000UL + 6 + 1, Assert.IsType<CpuExit.Halt>(m.Run(code)).Rip);
        }
    }

    [Fact]
    public void Xsaveopt_SavesWhatXsaveSaves()
    {
        using var m = Machine();
        m.State.Xmm[4] = 0x77; // XMM2, low half
        var exit = m.Run(a =>
        {
            a.mov(eax, 3);
            a.xor(edx, edx);
            a.xsaveopt64(__[rsi]);
        });
        Assert.IsType<CpuExit.Halt>(exit);
        Assert.Equal(0x77UL, Read(m, 160 + 32, 8));
        Assert.Equal(0x1F80UL, Read(m, 24, 4));
        Assert.Equal(3UL, Read(m, 512, 8)); // XSTATE_BV: both components reported in use
    }

    private static LongModeMachine Machine()
    {
        var m = new LongModeMachine();
        VectorReplayTests.InstallExceptionHandlers(m);
        m.State.Cr4 |= CpuState.Cr4OsXsave;
        m.State.Xcr0 = 3;
        m.State.Gpr[6] = Area;
        return m;
    }

    private static ulong Read(LongModeMachine m, ulong offset, int size)
    {
        var bytes = new byte[8];
        m.Ram.Read(Area + offset, size).CopyTo(bytes, 0);
        return BitConverter.ToUInt64(bytes);
    }
}
