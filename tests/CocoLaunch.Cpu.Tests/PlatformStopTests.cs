using static Iced.Intel.AssemblerRegisters;

namespace CocoLaunch.Cpu.Tests;

/// <summary>
/// A platform that stops an access (an implicit conversion, an unaccepted TDX page) or raises an exception for
/// it (#VE, #VC): the instruction has no effect, RIP stays on it, and it completes once the platform lets it.
/// </summary>
public sealed class PlatformStopTests
{
    private const ulong Gfn = LongModeMachine.ScratchAddress >> 12;

    public static TheoryData<bool> Modes() => [false, true];

    [Theory]
    [MemberData(nameof(Modes))]
    public void StoppedAdcToMemory_HasNoEffect_ThenCompletesWithTheSameCarry(bool compiled)
    {
        var gate = new Gate { Refuse = Gfn };
        using var m = new LongModeMachine(wrap: ram => gate.Over(ram));
        m.Cpu.JitThreshold = compiled ? 0 : int.MaxValue;
        m.State.Gpr[6] = LongModeMachine.ScratchAddress;
        m.State.Gpr[0] = 5;
        m.Ram.Write(LongModeMachine.ScratchAddress, BitConverter.GetBytes(10u));
        var exit = m.Run(a =>
        {
            a.stc();
            a.adc(__dword_ptr[rsi], eax); // stopped: CF must survive for the retry
        });
        var stopped = Assert.IsType<CpuExit.Stopped>(exit);
        Assert.Equal("page 0x200", stopped.Reason);
        Assert.Equal(LongModeMachine.CodeAddress + 1, m.State.Rip); // at the ADC, after the 1-byte STC
        Assert.Equal(10u, BitConverter.ToUInt32(m.Ram.Read(LongModeMachine.ScratchAddress, 4)));
        Assert.Equal(1UL, m.State.Rflags & CpuState.FlagCf);

        gate.Refuse = null;
        Assert.IsType<CpuExit.Halt>(m.Cpu.Run(100));
        Assert.Equal(16u, BitConverter.ToUInt32(m.Ram.Read(LongModeMachine.ScratchAddress, 4)));
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void PlatformFault_IsDeliveredAtTheInstruction(bool compiled)
    {
        var gate = new Gate { Raise = Gfn };
        using var m = new LongModeMachine(wrap: ram => gate.Over(ram));
        VectorReplayTests.InstallExceptionHandlers(m);
        m.Cpu.JitThreshold = compiled ? 0 : int.MaxValue;
        m.State.Gpr[6] = LongModeMachine.ScratchAddress;
        var exit = m.Run(a => a.mov(eax, __dword_ptr[rsi]));
        Assert.Equal(0x5000UL + 20 + 1, Assert.IsType<CpuExit.Halt>(exit).Rip); // #VE, vector 20, no error code
        Assert.Equal(LongModeMachine.CodeAddress, BitConverter.ToUInt64(m.Ram.Read(m.State.Gpr[4], 8)));
    }

    [Fact]
    public void StopWhilePushingAnExceptionFrame_PutsTheStateBack()
    {
        // #DE whose frame goes on a stack page the platform stops: RSP, CS and RIP are as before the DIV.
        var gate = new Gate { Refuse = (LongModeMachine.StackTop - 8) >> 12 };
        using var m = new LongModeMachine(wrap: ram => gate.Over(ram));
        VectorReplayTests.InstallExceptionHandlers(m);
        var exit = m.Run(a =>
        {
            a.xor(ecx, ecx);
            a.div(ecx);
        });
        Assert.IsType<CpuExit.Stopped>(exit);
        Assert.Equal((LongModeMachine.StackTop, LongModeMachine.CodeAddress + 2), (m.State.Gpr[4], m.State.Rip));

        gate.Refuse = null;
        Assert.Equal(0x5000UL + 0 + 1, Assert.IsType<CpuExit.Halt>(m.Cpu.Run(100)).Rip);
        Assert.Equal(LongModeMachine.StackTop - 40, m.State.Gpr[4]); // the #DE frame, pushed once
    }

    /// <summary>Stops or faults accesses to one page, and otherwise passes them to the RAM.</summary>
    private sealed unsafe class Gate
    {
        public ulong? Refuse { get; set; }

        public ulong? Raise { get; set; }

        public IPlatform Over(IPlatform ram) => new Platform(this, ram);

        private sealed class Platform(Gate gate, IPlatform ram) : IPlatform
        {
            public byte* RamPage(ulong gfn, bool isPrivate, bool write)
            {
                if (gfn == gate.Refuse)
                {
                    throw new PlatformStop($"page 0x{gfn:x}");
                }

                if (gfn == gate.Raise)
                {
                    throw new PlatformFault(20);
                }

                return ram.RamPage(gfn, isPrivate, write);
            }
        }
    }
}
