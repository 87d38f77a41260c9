using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CocoLaunch.Cpu.Tests;

/// <summary>
/// External interrupts and NMIs as the SDM defines their recognition (vol. 3 §6.8.3 interrupt shadows, §6.7.1 NMI
/// blocking until IRET, §6.12.1 no error code for external interrupts): a 64-bit IDT whose handlers record what
/// they saw.
/// </summary>
public sealed class InterruptTests
{
    private const ulong Idt = 0x20_1000, Gdt = 0x20_2000, Handlers = 0x18_0000, Seen = 0x20_0000;

    /// <summary>Gate <paramref name="vector"/> → a handler that stores the qword at [RSP] and the vector, then IRETQs.</summary>
    private static LongModeMachine Machine(params int[] vectors)
    {
        var m = new LongModeMachine();
        m.State.Idtr = new DescriptorTable { Base = Idt, Limit = 0xFFF };
        m.State.Gdtr = new DescriptorTable { Base = Gdt, Limit = 23 };
        m.Ram.Write(Gdt + 8, BitConverter.GetBytes(0x00AF_9B00_0000_FFFFUL)); // 0x08: 64-bit code
        m.Ram.Write(Gdt + 16, BitConverter.GetBytes(0x00CF_9300_0000_FFFFUL)); // 0x10: data
        foreach (int v in vectors)
        {
            ulong handler = Handlers + ((ulong)v * 0x40);
            var a = new Assembler(64);
            a.mov(rax, __qword_ptr[rsp]);
            a.mov(__qword_ptr[Seen], rax);
            a.mov(__qword_ptr[Seen + 8], v);
            a.add(__qword_ptr[Seen + 16], 1);
            a.iretq();
            var code = new MemoryStream();
            a.Assemble(new StreamCodeWriter(code), handler);
            m.Ram.Write(handler, code.ToArray());

            var gate = new byte[16];
            BitConverter.GetBytes((ushort)handler).CopyTo(gate, 0);
            BitConverter.GetBytes((ushort)0x08).CopyTo(gate, 2);
            gate[5] = 0x8E; // present, DPL 0, 64-bit interrupt gate
            BitConverter.GetBytes((ushort)(handler >> 16)).CopyTo(gate, 6);
            BitConverter.GetBytes((uint)(handler >> 32)).CopyTo(gate, 8);
            m.Ram.Write(Idt + ((ulong)v * 16), gate);
        }

        return m;
    }

    private static ulong Qword(LongModeMachine m, ulong at) => BitConverter.ToUInt64(m.Ram.Read(at, 8));

    private static byte[] Code(Action<Assembler> build)
    {
        var a = new Assembler(64);
        build(a);
        var s = new MemoryStream();
        a.Assemble(new StreamCodeWriter(s), LongModeMachine.CodeAddress);
        return s.ToArray();
    }

    [Fact]
    public void InterruptsOff_WindowClosed_NothingDelivered()
    {
        using var m = Machine(0x30);
        Assert.False(m.Cpu.InterruptWindowOpen);
        Assert.False(m.Cpu.DeliverExternalInterrupt(0x30));
        m.RunBytes([]);
        Assert.Equal(0UL, Qword(m, Seen + 16));
    }

    [Fact]
    public void InterruptWithIfSet_RunsTheHandlerAndReturnsToTheNextInstruction()
    {
        using var m = Machine(0x30);
        m.State.Rflags |= CpuState.FlagIf;
        Assert.True(m.Cpu.DeliverExternalInterrupt(0x30));
        Assert.Equal(0UL, m.State.Rflags & CpuState.FlagIf); // an interrupt gate clears IF
        var exit = m.RunBytes(Code(a => a.mov(ebx, 7)));
        Assert.IsType<CpuExit.Halt>(exit);
        Assert.Equal((LongModeMachine.CodeAddress, 0x30UL, 1UL), (Qword(m, Seen), Qword(m, Seen + 8), Qword(m, Seen + 16)));
        Assert.Equal(7UL, m.State.Gpr[3]);
        Assert.NotEqual(0UL, m.State.Rflags & CpuState.FlagIf); // IRETQ restored it
    }

    [Fact]
    public void ExternalInterruptOnAFaultVector_PushesNoErrorCode()
    {
        // Vector 14 as an exception pushes an error code; as an external interrupt it does not (SDM §6.12.1), so
        // the handler's [RSP] is the return RIP and its IRETQ works.
        using var m = Machine(14);
        m.State.Rflags |= CpuState.FlagIf;
        Assert.True(m.Cpu.DeliverExternalInterrupt(14));
        Assert.IsType<CpuExit.Halt>(m.RunBytes([]));
        Assert.Equal(LongModeMachine.CodeAddress, Qword(m, Seen));
    }

    [Fact]
    public void Sti_ShadowsTheNextInstruction_ThenTheWindowExitComes()
    {
        using var m = Machine(0x30);
        m.Cpu.InterruptWindowExiting = true;
        var code = Code(a =>
        {
            a.mov(eax, 1);
            a.sti();
            a.mov(eax, 2);
            a.mov(eax, 3);
        });
        var exit = m.RunBytes(code);
        Assert.IsType<CpuExit.InterruptWindow>(exit);
        Assert.Equal(2UL, m.State.Gpr[0]); // the instruction after STI ran before the window opened
        Assert.True(m.Cpu.InterruptWindowOpen);
    }

    [Fact]
    public void StiHlt_HaltsInsideTheShadow_AndTheInterruptReturnsAfterTheHlt()
    {
        // The safe-halt idiom: no interrupt may slip in between STI and HLT, or the HLT would sleep past it.
        using var m = Machine(0x30);
        m.Cpu.InterruptWindowExiting = true;
        var code = Code(a =>
        {
            a.sti();
            a.hlt();
            a.mov(ebx, 9);
        });
        var exit = m.RunBytes(code);
        var halt = Assert.IsType<CpuExit.Halt>(exit);
        ulong afterHlt = LongModeMachine.CodeAddress + 2;
        Assert.Equal(afterHlt, halt.Rip);
        Assert.True(m.Cpu.DeliverExternalInterrupt(0x30));
        m.Cpu.InterruptWindowExiting = false;
        m.Cpu.Run(100);
        Assert.Equal(afterHlt, Qword(m, Seen));
        Assert.Equal(9UL, m.State.Gpr[3]);
    }

    [Fact]
    public void MovSs_ShadowsTheNextInstruction()
    {
        using var m = Machine(0x30);
        m.State.Rflags |= CpuState.FlagIf;
        m.Cpu.InterruptWindowExiting = true;
        var code = Code(a =>
        {
            a.mov(ax, ss);
            a.mov(ss, ax);
            a.mov(ebx, 5);
            a.mov(ebx, 6);
        });

        // The window is open at once (IF set); MOV SS then closes it for one instruction.
        Assert.IsType<CpuExit.InterruptWindow>(m.RunBytes(code));
        m.Cpu.InterruptWindowExiting = false;
        m.Cpu.Run(2);
        Assert.False(m.Cpu.InterruptWindowOpen);
        m.Cpu.InterruptWindowExiting = true;
        Assert.IsType<CpuExit.InterruptWindow>(m.Cpu.Run(100));
        Assert.Equal(5UL, m.State.Gpr[3]);
    }

    [Fact]
    public void Nmi_IsBlockedUntilIret()
    {
        using var m = Machine(2);
        Assert.True(m.Cpu.DeliverNmi()); // NMIs ignore IF
        Assert.False(m.Cpu.NmiWindowOpen);
        Assert.False(m.Cpu.DeliverNmi());
        Assert.IsType<CpuExit.Halt>(m.RunBytes([]));
        Assert.Equal((2UL, 1UL), (Qword(m, Seen + 8), Qword(m, Seen + 16)));
        Assert.True(m.Cpu.NmiWindowOpen);
    }

    [Fact]
    public void AdvanceTsc_MovesRdtscForward()
    {
        using var m = Machine();
        m.Cpu.AdvanceTsc(1_000_000);
        m.RunBytes(Code(a => a.rdtsc()));
        ulong tsc = (m.State.Gpr[2] << 32) | (m.State.Gpr[0] & 0xFFFF_FFFF);
        Assert.Equal(1_000_000UL, tsc); // RDTSC is the first instruction: 0 retired before it
        Assert.Equal(1_000_002UL, m.Cpu.Tsc); // RDTSC and HLT have retired since
    }
}
