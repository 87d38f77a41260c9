using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CocoLaunch.Cpu.Tests;

/// <summary>
/// LOCK-prefixed read-modify-writes are atomic across processors (SDM vol. 3 §9.1.2.2): two vCPUs on their own
/// threads incrementing, or setting bits in, the same memory never lose one another's update.
/// </summary>
public sealed class LockedAccessTests
{
    private const int Rounds = 3_000_000;

    private static async Task RunOnTwoCpus(LongModeMachine m, Action<Assembler> body)
    {
        var a = new Assembler(64);
        var loop = a.CreateLabel();
        a.mov(ecx, Rounds);
        a.Label(ref loop);
        body(a);
        a.dec(ecx);
        a.jnz(loop);
        a.hlt();
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), LongModeMachine.CodeAddress);
        m.Ram.Write(LongModeMachine.CodeAddress, stream.ToArray());
        m.Ram.Write(LongModeMachine.ScratchAddress, new byte[16]); // touch the page before two threads share it
        var second = m.SecondCpu(LongModeMachine.StackTop - 0x1000);
        foreach (var cpu in new[] { m.Cpu, second })
        {
            cpu.FlushCodeCache();
            cpu.State.Gpr[7] = LongModeMachine.ScratchAddress;
        }

        using var start = new Barrier(2);
        var exits = await Task.WhenAll(
            Task.Factory.StartNew(() => { start.SignalAndWait(); return m.Cpu.Run(long.MaxValue); }, TaskCreationOptions.LongRunning),
            Task.Factory.StartNew(() => { start.SignalAndWait(); return second.Run(long.MaxValue); }, TaskCreationOptions.LongRunning));
        Assert.All(exits, e => Assert.IsType<CpuExit.Halt>(e));
    }

    [Fact]
    public async Task LockInc_FromTwoCpus_CountsEveryIncrement()
    {
        using var m = new LongModeMachine();
        await RunOnTwoCpus(m, a => a.@lock.inc(__qword_ptr[rdi]));
        Assert.Equal(2UL * Rounds, BitConverter.ToUInt64(m.Ram.Read(LongModeMachine.ScratchAddress, 8)));
    }

    [Fact]
    public async Task LockXadd_FromTwoCpus_CountsEveryAddition()
    {
        using var m = new LongModeMachine();
        await RunOnTwoCpus(m, a =>
        {
            a.mov(eax, 3);
            a.@lock.xadd(__dword_ptr[rdi], eax);
        });
        Assert.Equal(6UL * Rounds, BitConverter.ToUInt32(m.Ram.Read(LongModeMachine.ScratchAddress, 4)));
    }
}
