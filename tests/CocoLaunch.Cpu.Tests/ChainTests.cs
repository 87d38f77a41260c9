using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CocoLaunch.Cpu.Tests;

/// <summary>
/// Direct block chaining (Jit/X86Cpu.Chain.cs): a linked successor must give way to a new translation, to new
/// bytes, and to the budget, exactly as the dispatcher would. Blocks compile on first run, so loops chain.
/// </summary>
public sealed class ChainTests
{
    private const ulong Pt = 0x9000; // page table for 2–4 MiB in 4 KiB pages, as in PagingTests
    private const ulong Pd = 0x3000;
    private const ulong Page = LongModeMachine.ScratchAddress;
    private const ulong Other = Page + 0x10_000;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FullBlockCache_DropsEveryBlock_AndTheGuestRunsOn(bool compiled)
    {
        // 200 blocks, each INC RAX and a jump to the next, run five times through a cache of 16 blocks.
        using var m = new LongModeMachine();
        m.Cpu.JitThreshold = compiled ? 0 : int.MaxValue;
        m.Cpu.MaxCachedBlocks = 16;
        var exit = m.Run(a =>
        {
            var again = a.CreateLabel();
            a.mov(ecx, 5);
            a.Label(ref again);
            for (int n = 0; n < 200; n++)
            {
                var next = a.CreateLabel();
                a.inc(rax);
                a.jmp(next);
                a.Label(ref next);
            }

            a.dec(ecx);
            a.jnz(again);
        });
        Assert.IsType<CpuExit.Halt>(exit);
        Assert.Equal(1000UL, m.State.Gpr[0]);
        Assert.InRange(m.Cpu.CachedBlocks, 1, 16);
        Assert.InRange(m.Cpu.Counters.CodeCacheDrops, 1000 / 16, 1000 / 15 + 5);
    }

    [Fact]
    public void Invlpg_RemappingAChainedSuccessor_RunsTheNewPage()
    {
        using var m = Machine();
        m.Ram.Write(Page, AddAndReturn(1));
        m.Ram.Write(Other, AddAndReturn(100));
        m.State.Gpr[3] = Other | 3; // the new PTE for Page
        m.State.Gpr[7] = Pt;        // Page's PTE
        var exit = m.Run(a => CallTenTimesTwice(a, () =>
        {
            a.mov(__qword_ptr[rdi], rbx);
            a.invlpg(__[rsi]);
        }));
        Assert.IsType<CpuExit.Halt>(exit);
        Assert.Equal(10UL + 1000, m.State.Gpr[0]);
        Assert.True(m.Cpu.Counters.BlocksChained > 0);
    }

    [Fact]
    public void CodeWrite_ToAChainedSuccessor_RunsTheNewBytes()
    {
        using var m = Machine();
        m.Ram.Write(Page, AddAndReturn(1));
        var exit = m.Run(a => CallTenTimesTwice(a, () => a.mov(__byte_ptr[rsi + 2], 100))); // the imm8 of the ADD at Page
        Assert.IsType<CpuExit.Halt>(exit);
        Assert.Equal(10UL + 1000, m.State.Gpr[0]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(10_001)]
    [InlineData(99_999)]
    public void Budget_StopsAChainExactly(long budget)
    {
        using var m = Machine();
        var exit = m.Run(a =>
        {
            var loop = a.CreateLabel();
            a.Label(ref loop);
            a.inc(rax);
            a.inc(rbx);
            a.jmp(loop);
        }, budget);
        Assert.IsType<CpuExit.InstructionLimit>(exit);
        Assert.Equal(budget, m.Cpu.InstructionsRetired);
        Assert.Equal((ulong)((budget + 2) / 3), m.State.Gpr[0]);
        Assert.Equal((ulong)((budget + 1) / 3), m.State.Gpr[3]);
    }

    // add eax, imm8; ret
    private static byte[] AddAndReturn(byte n) => [0x83, 0xC0, n, 0xC3];

    /// <summary>Calls RSI ten times, runs <paramref name="between"/>, and again from the same call site, whose link is made.</summary>
    private static void CallTenTimesTwice(Assembler a, Action between)
    {
        var outer = a.CreateLabel();
        var inner = a.CreateLabel();
        var done = a.CreateLabel();
        a.xor(edx, edx);
        a.Label(ref outer);
        a.xor(ecx, ecx);
        a.Label(ref inner);
        a.call(rsi);
        a.inc(ecx);
        a.cmp(ecx, 10);
        a.jne(inner);
        a.test(edx, edx);
        a.jnz(done);
        between();
        a.inc(edx);
        a.jmp(outer);
        a.Label(ref done);
    }

    private static LongModeMachine Machine()
    {
        var m = new LongModeMachine();
        VectorReplayTests.InstallExceptionHandlers(m);
        m.Cpu.JitThreshold = 0;
        for (ulong i = 0; i < 512; i++)
        {
            m.Ram.Write(Pt + (i * 8), BitConverter.GetBytes((Page + (i << 12)) | 0x3));
        }

        m.Ram.Write(Pd + 8, BitConverter.GetBytes(Pt | 0x3));
        m.State.Gpr[6] = Page;
        return m;
    }
}
