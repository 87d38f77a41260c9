using static Iced.Intel.AssemblerRegisters;

namespace CocoLaunch.Cpu.Tests;

/// <summary>
/// Hot blocks compiled on the background compiler's thread: the loop keeps running interpreted while its block is
/// queued, switches to compiled code once it is ready, and computes exactly what the interpreter alone computes.
/// </summary>
public sealed class BackgroundCompileTests
{
    private static void Loop(Iced.Intel.Assembler a, int iterations)
    {
        var loop = a.CreateLabel();
        a.mov(ecx, iterations);
        a.xor(eax, eax);
        a.Label(ref loop);
        a.lea(rax, __[rax + rcx * 2 + 3]);
        a.ror(rax, 7);
        a.imul(rax, rax, 0x45);
        a.dec(ecx);
        a.jnz(loop);
    }

    [Fact]
    public void QueuedBlock_RunsInterpretedUntilReady_ThenCompiled_WithTheInterpretersResult()
    {
        using var interpreted = new LongModeMachine();
        interpreted.Cpu.JitThreshold = int.MaxValue;
        interpreted.Run(a => Loop(a, 100_000), 10_000_000);

        using var m = new LongModeMachine();
        m.Cpu.JitThreshold = 5;
        Assert.True(m.Cpu.CompileInBackground);
        m.Run(a => Loop(a, 100_000), 10_000_000);
        Assert.Equal(interpreted.State.Gpr[0], m.State.Gpr[0]);
        Assert.True(m.Cpu.BlocksCompiled > 0);

        // The compile finishes on its own thread; once it has, a second run of the loop runs compiled.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        long before = m.Cpu.Counters.InstructionsInCompiledBlocks;
        while (m.Cpu.Counters.InstructionsInCompiledBlocks == before && DateTime.UtcNow < deadline)
        {
            m.State.Rip = LongModeMachine.CodeAddress;
            m.Cpu.Run(1_000_000);
        }

        Assert.True(m.Cpu.Counters.InstructionsInCompiledBlocks > before, "the background compiler never delivered the loop's block");
        Assert.Equal(interpreted.State.Gpr[0], m.State.Gpr[0]);
    }
}
