using CocoLaunch.Cpu.Platform;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CocoLaunch.Cpu.Tests;

/// <summary>32-bit paging (4 KiB and PSE 4 MiB pages) and PAE paging in 32-bit protected mode.</summary>
public sealed class LegacyPagingTests
{
    private const uint Code = 0x10_0000, Target = 0x20_0000, Linear = 0x40_0000, Directory = 0x1000, Table = 0x2000;

    [Theory]
    [InlineData("4k", false)]
    [InlineData("4k", true)]
    [InlineData("pse-4m", false)]
    [InlineData("pse-4m", true)]
    [InlineData("pae-4k", false)]
    [InlineData("pae-4k", true)]
    public void Load_ThroughTheMapping_ReadsTheTargetFrameAndSetsAccessed(string mode, bool compiled)
    {
        using var ram = new RamPlatform(8 << 20);
        var s = new CpuState { Cr0 = CpuState.Cr0Pe | CpuState.Cr0Pg | CpuState.Cr0Wp | 0x10, Cr3 = Directory, Rip = Code };
        for (int i = 0; i < 6; i++)
        {
            s.Segments[i] = new Segment(0x10, 0, 0xFFFF_FFFF, 0xC93);
        }

        s.Segments[(int)SegmentName.Cs] = new Segment(0x08, 0, 0xFFFF_FFFF, 0xC9B);
        ulong entryOfLinear;
        switch (mode)
        {
            case "4k":
                // PDE 0: the first 4 MiB identity-mapped through a table (the code); PDE 1: linear 4 MiB to the target.
                ram.Write(Directory, BitConverter.GetBytes(Table | 3u));
                for (uint p = 0; p < 1024; p++)
                {
                    ram.Write(Table + (p * 4), BitConverter.GetBytes((p << 12) | 3u));
                }

                ram.Write(Directory + 4, BitConverter.GetBytes(0x3000u | 3));
                ram.Write(0x3000, BitConverter.GetBytes(Target | 3u));
                entryOfLinear = 0x3000;
                break;
            case "pse-4m":
                s.Cr4 = CpuState.Cr4Pse;
                ram.Write(Directory, BitConverter.GetBytes(0x83u));
                // 4 MiB page at linear 4 MiB; the frame must be 4 MiB aligned: physical 4 MiB, where the target is copied.
                ram.Write(Directory + 4, BitConverter.GetBytes(0x40_0000u | 0x83));
                entryOfLinear = Directory + 4;
                break;
            default:
                s.Cr4 = CpuState.Cr4Pae;
                s.Cr3 = 0x4000; // PDPT, 32-byte aligned
                ram.Write(0x4000, BitConverter.GetBytes(0x5000UL | 1));
                ram.Write(0x5000, BitConverter.GetBytes(0x83UL)); // 2 MiB identity for the code
                ram.Write(0x5010, BitConverter.GetBytes(0x6000UL | 3)); // linear 4 MiB .. 6 MiB through a table
                ram.Write(0x6000, BitConverter.GetBytes((ulong)Target | 3));
                entryOfLinear = 0x6000;
                break;
        }

        // The 4 MiB page maps physical 4 MiB: put the value there too; the 4 KiB mappings read it at Target.
        ram.Write(Target, BitConverter.GetBytes(0xC0DE_F00Du));
        ram.Write(0x40_0000, BitConverter.GetBytes(0xC0DE_F00Du));
        var a = new Assembler(32);
        a.mov(eax, __dword_ptr[Linear]);
        a.mov(__dword_ptr[Linear + 4], eax);
        a.hlt();
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), Code);
        ram.Write(Code, stream.ToArray());

        var cpu = new X86Cpu(ram, s) { JitThreshold = compiled ? 0 : int.MaxValue };
        Assert.IsType<CpuExit.Halt>(cpu.Run(100));
        Assert.Equal(0xC0DE_F00DUL, cpu.State.Gpr[0]);
        ulong entry = mode == "pae-4k" ? BitConverter.ToUInt64(ram.Read(entryOfLinear, 8)) : BitConverter.ToUInt32(ram.Read(entryOfLinear, 4));
        Assert.Equal(0x60UL, entry & 0x60); // accessed and dirty
    }
}
