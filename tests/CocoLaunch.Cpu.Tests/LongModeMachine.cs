using CocoLaunch.Cpu;
using CocoLaunch.Cpu.Platform;
using Iced.Intel;

namespace CocoLaunch.Cpu.Tests;

/// <summary>
/// A CPU already in 64-bit mode, as the KVM differential harness sets one up (cpu-emulator.md §6.4): identity
/// map of the first 4 MiB with 2 MiB pages, flat CS/DS, code at <see cref="CodeAddress"/>.
/// </summary>
internal sealed class LongModeMachine : IDisposable
{
    public const ulong CodeAddress = 0x10_0000;
    public const ulong ScratchAddress = 0x20_0000;
    public const ulong StackTop = 0x30_0000;
    private const ulong Pml4 = 0x1000, Pdpt = 0x2000, Pd = 0x3000;

    /// <param name="wrap">Puts a platform of the test's between the CPU and the RAM.</param>
    public LongModeMachine(ulong ramBytes = 4 << 20, Func<IPlatform, IPlatform>? wrap = null, CpuVendor vendor = CpuVendor.Amd)
    {
        Ram = new RamPlatform(ramBytes);
        Ram.Write(Pml4, BitConverter.GetBytes(Pdpt | 3));
        Ram.Write(Pdpt, BitConverter.GetBytes(Pd | 3));
        for (ulong i = 0; i < 2; i++)
        {
            Ram.Write(Pd + (i * 8), BitConverter.GetBytes((i << 21) | 0x83));
        }

        Cpu = new X86Cpu(wrap is null ? Ram : wrap(Ram), InitialState(StackTop), vendor);
    }

    /// <summary>Another processor on the same RAM and page tables, at <see cref="CodeAddress"/> with its own stack.</summary>
    public X86Cpu SecondCpu(ulong stackTop) => new(Ram, InitialState(stackTop), CpuVendor.Amd);

    private static CpuState InitialState(ulong stackTop)
    {
        var s = new CpuState { Cr0 = 0x8000_0011 | CpuState.Cr0Mp, Cr3 = Pml4, Cr4 = 0x20 | 0x600, Efer = 0x500 };
        for (int i = 0; i < 6; i++)
        {
            s.Segments[i] = new Segment(0x10, 0, 0xFFFF_FFFF, 0xC93);
        }

        s.Segments[(int)SegmentName.Cs] = new Segment(0x08, 0, 0xFFFF_FFFF, 0xA9B);
        s.Rip = CodeAddress;
        s.Gpr[4] = stackTop;
        return s;
    }

    public RamPlatform Ram { get; }

    public X86Cpu Cpu { get; }

    public CpuState State => Cpu.State;

    /// <summary>Assembles <paramref name="build"/> at <see cref="CodeAddress"/>, appends HLT, runs to it.</summary>
    public CpuExit Run(Action<Assembler> build, long maxInstructions = 1_000_000)
    {
        var a = new Assembler(64);
        build(a);
        a.hlt();
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), CodeAddress);
        return RunBytes(stream.ToArray(), maxInstructions);
    }

    public CpuExit RunBytes(byte[] code, long maxInstructions = 1_000_000)
    {
        Ram.Write(CodeAddress, [.. code, 0xF4]);
        Cpu.FlushCodeCache(); // the code was written by the host, not through the CPU
        return Cpu.Run(maxInstructions);
    }

    public void Dispose() => Ram.Dispose();
}
