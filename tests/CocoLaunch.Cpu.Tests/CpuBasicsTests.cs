using CocoLaunch.Cpu;
using CocoLaunch.Cpu.Platform;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CocoLaunch.Cpu.Tests;

public sealed class CpuBasicsTests
{
    [Fact]
    public void AddRaxRbx_AsTheRealCpuComputesIt()
    {
        // cpu-emulator.md §6.4, checked on the real CPU: RAX = -1, RBX = 0x8000 gives 0x7FFF and RFLAGS 0x7 (+ bit 1).
        using var m = new LongModeMachine();
        m.State.Gpr[0] = ulong.MaxValue;
        m.State.Gpr[3] = 0x8000;
        var exit = m.Run(a => a.add(rax, rbx));
        Assert.IsType<CpuExit.Halt>(exit);
        Assert.Equal(0x7FFFUL, m.State.Gpr[0]);
        Assert.Equal(0x7UL, m.State.Rflags & 0xFFF); // CF, bit 1, PF
    }

    [Fact]
    public void SixteenBitAdd_CarryOutLeavesRflags0x57()
    {
        // §6.4: a 16-bit add giving 0x10000 leaves RFLAGS 0x57 (CF PF AF ZF, bit 1).
        using var m = new LongModeMachine();
        m.State.Gpr[0] = 0xFFFF;
        m.State.Gpr[3] = 1;
        m.Run(a => a.add(ax, bx));
        Assert.Equal(0x57UL, m.State.Rflags & 0xFFF);
        Assert.Equal(0UL, m.State.Gpr[0]);
    }

    [Fact]
    public void LoopsCallsAndMemory_ComputeASum()
    {
        using var m = new LongModeMachine();
        m.Run(a =>
        {
            var loop = a.CreateLabel();
            var fn = a.CreateLabel();
            var done = a.CreateLabel();
            a.mov(rcx, 100);
            a.xor(eax, eax);
            a.Label(ref loop);
            a.call(fn);
            a.loop(loop);
            a.mov(__qword_ptr[LongModeMachine.ScratchAddress], rax);
            a.jmp(done);
            a.Label(ref fn);
            a.add(rax, rcx);
            a.ret();
            a.Label(ref done);
        });
        Assert.Equal(5050UL, m.State.Gpr[0]);
        Assert.Equal(5050UL, BitConverter.ToUInt64(m.Ram.Read(LongModeMachine.ScratchAddress, 8)));
    }

    [Fact]
    public void DivideByZero_WithoutAnIdt_IsATripleFaultShutdown()
    {
        using var m = new LongModeMachine();
        var exit = m.Run(a =>
        {
            a.xor(ecx, ecx);
            a.div(rcx);
        });
        Assert.IsType<CpuExit.Shutdown>(exit);
    }

    [Fact]
    public void OutToDebugcon_ExitsWithThePortAndByte()
    {
        using var m = new LongModeMachine();
        var exit = m.Run(a =>
        {
            a.mov(al, (byte)'A');
            a.@out(0xE9, al);
        });
        Assert.Equal(new CpuExit.PortOut(0xE9, 1, 0x41), exit);
        Assert.IsType<CpuExit.Halt>(m.Cpu.Run(10));
    }

    [Fact]
    public void RepInsb_ReadsThePortOncePerElement_ThenRunsOn()
    {
        // OVMF reads fw_cfg's 4-byte signature with REP INSB (IoReadFifo8): each element is one port read, and
        // the instruction runs again from itself until RCX is 0 (SDM vol. 2 "INS", "REP").
        using var m = new LongModeMachine();
        var exit = m.Run(a =>
        {
            a.mov(dx, 0x511);
            a.mov(rdi, LongModeMachine.ScratchAddress);
            a.mov(ecx, 4);
            a.rep.insb();
            a.mov(al, 0x2A);
        });
        foreach (byte b in "QEMU"u8.ToArray())
        {
            Assert.Equal(new CpuExit.PortIn(0x511, 1), exit);
            m.Cpu.CompletePortIn(b);
            exit = m.Cpu.Run(10);
        }

        Assert.IsType<CpuExit.Halt>(exit);
        Assert.Equal("QEMU"u8.ToArray(), m.Ram.Read(LongModeMachine.ScratchAddress, 4));
        Assert.Equal((0UL, LongModeMachine.ScratchAddress + 4, 0x2AUL), (m.State.Gpr[1], m.State.Gpr[7], m.State.Gpr[0] & 0xFF));
    }

    [Fact]
    public void RealModeReset_FetchesFromFfff0AndRunsTheResetVector()
    {
        // A 4 KiB ROM ending at 4 GiB: mov al,'R'; out 0xe9,al; hlt at 0xFFFFFFF0.
        var rom = new byte[4096];
        new byte[] { 0xB0, 0x52, 0xE6, 0xE9, 0xF4 }.CopyTo(rom, 4096 - 16);
        using var ram = new RamPlatform(1 << 20, rom);
        var cpu = new X86Cpu(ram, CpuState.LegacyReset());
        Assert.Equal(new CpuExit.PortOut(0xE9, 1, 0x52), cpu.Run(100));
        Assert.IsType<CpuExit.Halt>(cpu.Run(100));
        Assert.Equal(0xFFF5UL, cpu.State.Rip);
    }
}
