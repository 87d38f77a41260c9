using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CocoLaunch.Cpu.Tests;

/// <summary>#AC: a misaligned data access at CPL 3 with CR0.AM and RFLAGS.AC set, delivered through the 64-bit IDT.</summary>
public sealed class AlignmentCheckTests
{
    private const ulong Tss = 0x7000, KernelStack = 0x8_0000, UserCode = 0x20_1000;

    [Theory]
    [InlineData(true, true, 1, true)] // misaligned dword: #AC at the MOV
    [InlineData(true, true, 4, false)] // aligned: no fault
    [InlineData(true, false, 1, false)] // RFLAGS.AC clear
    [InlineData(false, true, 1, false)] // CR0.AM clear
    public void MisalignedUserLoad_FaultsOnlyWhenArmed(bool cr0Am, bool rflagsAc, int offset, bool alignmentFault)
    {
        foreach (bool compiled in new[] { false, true })
        {
            using var m = UserModeMachine(cr0Am, rflagsAc, compiled);
            // The user code lives in the second 2 MiB page, with the scratch buffer; the first page is supervisor-only.
            var a = new Assembler(64);
            a.mov(eax, __dword_ptr[rsi + offset]);
            a.hlt();
            var stream = new MemoryStream();
            a.Assemble(new StreamCodeWriter(stream), UserCode);
            m.Ram.Write(UserCode, stream.ToArray());
            m.State.Rip = UserCode;
            var exit = m.Cpu.Run(1000);

            // Without #AC the load completes and the HLT after it (3 bytes on) is a #GP at CPL 3. Either way the
            // kernel handler ran on the TSS's RSP0 stack, reached through supervisor-only reads of the IDT and TSS.
            int vector = alignmentFault ? 17 : 13;
            ulong faultRip = UserCode + (alignmentFault ? 0UL : 3UL);
            var halt = Assert.IsType<CpuExit.Halt>(exit);
            Assert.Equal(0x5000UL + (ulong)vector + 1, halt.Rip);
            Assert.Equal(KernelStack - 48, m.State.Gpr[4]);
            Assert.Equal(0UL, BitConverter.ToUInt64(m.Ram.Read(m.State.Gpr[4], 8))); // error code
            Assert.Equal(faultRip, BitConverter.ToUInt64(m.Ram.Read(m.State.Gpr[4] + 8, 8)));
            Assert.Equal(0x1BUL, BitConverter.ToUInt64(m.Ram.Read(m.State.Gpr[4] + 16, 8))); // CS
            if (!alignmentFault)
            {
                Assert.Equal(offset == 1 ? 0x4030_2010UL : 0x3020_1040UL, m.State.Gpr[0]);
            }
        }
    }

    [Fact]
    public void AlignmentFaultWithUnmappedKernelStack_EscalatesToTripleFaultShutdown()
    {
        // #AC (benign), then #PF pushing its frame, then #PF again (#DF), then #PF delivering #DF: shutdown. An
        // earlier version recursed on this chain until the host's stack overflowed.
        using var m = UserModeMachine(cr0Am: true, rflagsAc: true, compiled: false);
        m.Ram.Write(Tss + 4, BitConverter.GetBytes(0x4000_0000UL));
        var a = new Assembler(64);
        a.mov(eax, __dword_ptr[rsi + 1]);
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), UserCode);
        m.Ram.Write(UserCode, stream.ToArray());
        m.State.Rip = UserCode;
        var exit = Assert.IsType<CpuExit.Shutdown>(m.Cpu.Run(1000));
        Assert.Contains("triple fault", exit.ToString(), StringComparison.Ordinal);
    }

    private static LongModeMachine UserModeMachine(bool cr0Am, bool rflagsAc, bool compiled)
    {
        var m = new LongModeMachine();
        VectorReplayTests.InstallExceptionHandlers(m);
        m.Cpu.JitThreshold = compiled ? 0 : int.MaxValue;
        // User pages: the U/S bit at every level of the identity map.
        m.Ram.Write(0x1000, BitConverter.GetBytes(0x2000UL | 7));
        m.Ram.Write(0x2000, BitConverter.GetBytes(0x3000UL | 7));
        for (ulong i = 0; i < 2; i++)
        {
            m.Ram.Write(0x3000 + (i * 8), BitConverter.GetBytes((i << 21) | 0x87));
        }

        m.Ram.Write(Tss + 4, BitConverter.GetBytes(KernelStack));
        m.State.Tr = new Segment(0x28, Tss, 0x67, 0x8B);
        m.State.Segments[(int)SegmentName.Cs] = new Segment(0x1B, 0, 0xFFFF_FFFF, 0xAFB);
        m.State.Segments[(int)SegmentName.Ss] = new Segment(0x23, 0, 0xFFFF_FFFF, 0xCF3);
        m.State.Cr0 |= cr0Am ? CpuState.Cr0Am : 0;
        m.State.Rflags = 2 | (rflagsAc ? CpuState.FlagAc : 0);
        m.State.Gpr[6] = LongModeMachine.ScratchAddress;
        m.Ram.Write(LongModeMachine.ScratchAddress, [0x00, 0x10, 0x20, 0x30, 0x40, 0x10, 0x20, 0x30, 0x40]);
        // The IDT, GDT, TSS and kernel stack stay supervisor-only: the 2 MiB page at 0 loses its U/S bit.
        m.Ram.Write(0x3000, BitConverter.GetBytes(0x83UL));
        return m;
    }
}
