using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CocoLaunch.Cpu.Tests;

/// <summary>
/// REP MOVS and REP STOS run as a fill or a copy per page where the TLB holds the pages (Strings.cs): across page
/// boundaries and with a destination overlapping its source ahead of it, memory and registers must come out as
/// the architecture's element-by-element loop leaves them, computed here in C#.
/// </summary>
public sealed class StringInstructionTests
{
    private const ulong Buffer = LongModeMachine.ScratchAddress; // three and more 4 KiB pages of RAM from here

    public static TheoryData<bool> Modes => new() { false, true };

    [Theory]
    [MemberData(nameof(Modes))]
    public void RepStosq_AcrossTwoPageBoundaries_FillsEveryElement(bool compiled)
    {
        using var m = Machine(compiled, out byte[] before);
        const ulong start = Buffer + 0xF08, count = 700;
        var exit = m.Run(a =>
        {
            a.mov(rdi, start);
            a.mov(rcx, count);
            a.mov(rax, 0x1122_3344_5566_7788UL);
            a.rep.stosq();
        });
        Assert.IsType<CpuExit.Halt>(exit);
        byte[] expected = (byte[])before.Clone();
        for (ulong k = 0; k < count; k++)
        {
            BitConverter.TryWriteBytes(expected.AsSpan((int)(start - Buffer + (k * 8)), 8), 0x1122_3344_5566_7788UL);
        }

        Assert.Equal(expected, m.Ram.Read(Buffer, before.Length));
        Assert.Equal((start + (count * 8), 0UL), (m.State.Gpr[7], m.State.Gpr[1]));
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void RepMovsb_DestinationThreeBytesAheadOfSource_RepeatsTheFirstThreeBytes(bool compiled)
    {
        using var m = Machine(compiled, out byte[] before);
        const ulong source = Buffer + 0xFFB, destination = source + 3, count = 5000;
        var exit = m.Run(a =>
        {
            a.mov(rsi, source);
            a.mov(rdi, destination);
            a.mov(rcx, count);
            a.rep.movsb();
        });
        Assert.IsType<CpuExit.Halt>(exit);
        byte[] expected = (byte[])before.Clone();
        for (ulong k = 0; k < count; k++)
        {
            expected[destination - Buffer + k] = expected[source - Buffer + k];
        }

        Assert.Equal(expected, m.Ram.Read(Buffer, before.Length));
        Assert.Equal((source + count, destination + count, 0UL), (m.State.Gpr[6], m.State.Gpr[7], m.State.Gpr[1]));
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void RepMovsq_BackwardOverlapAcrossPages_CopiesAsTheLoopDoes(bool compiled)
    {
        using var m = Machine(compiled, out byte[] before);
        const ulong source = Buffer + 0x1F10, destination = Buffer + 0xF00, count = 600;
        var exit = m.Run(a =>
        {
            a.mov(rsi, source);
            a.mov(rdi, destination);
            a.mov(rcx, count);
            a.rep.movsq();
        });
        Assert.IsType<CpuExit.Halt>(exit);
        byte[] expected = (byte[])before.Clone();
        for (ulong k = 0; k < count * 8; k++)
        {
            expected[destination - Buffer + k] = expected[source - Buffer + k];
        }

        Assert.Equal(expected, m.Ram.Read(Buffer, before.Length));
    }

    private static LongModeMachine Machine(bool compiled, out byte[] before)
    {
        var m = new LongModeMachine();
        m.Cpu.JitThreshold = compiled ? 0 : int.MaxValue;
        before = new byte[0x4000];
        new Random(7).NextBytes(before);
        m.Ram.Write(Buffer, before);
        return m;
    }
}
