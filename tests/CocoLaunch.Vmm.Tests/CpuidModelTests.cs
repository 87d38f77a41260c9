using CocoLaunch.Cpu;
using CocoLaunch.Cpu.Platform;
using CocoLaunch.Vmm.Boot;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CocoLaunch.Vmm.Tests;

/// <summary>
/// A CPUID table must never report an instruction the CPU lacks: a guest that sees the bit takes the path, and
/// meets #UD. For every instruction-set bit the <c>kvm-intel</c> table reports, one instruction of that extension
/// runs on the emulated CPU (in 64-bit mode at CPL 0, with the CR4 bit it needs) and must not fault.
/// </summary>
public sealed class CpuidModelTests
{
    private const ulong Code = 0x10_0000, Scratch = 0x20_0000;

    public static TheoryData<string, uint, uint, char, int> ReportedInstructionSets() => new()
    {
        { "CX16 (CMPXCHG16B)", 1, 0, 'c', 13 },
        { "MOVBE", 1, 0, 'c', 22 },
        { "POPCNT", 1, 0, 'c', 23 },
        { "XSAVE", 1, 0, 'c', 26 },
        { "RDRAND", 1, 0, 'c', 30 },
        { "FSGSBASE", 7, 0, 'b', 0 },
        { "INVPCID", 7, 0, 'b', 10 },
        { "RDSEED", 7, 0, 'b', 18 },
        { "SMAP (CLAC/STAC)", 7, 0, 'b', 20 },
        { "RDPID", 7, 0, 'c', 22 },
        { "XSAVEOPT", 0xD, 1, 'a', 0 },
        { "LAHF/SAHF in 64-bit mode", 0x8000_0001, 0, 'c', 0 },
        { "LZCNT", 0x8000_0001, 0, 'c', 5 },
        { "SYSCALL (checked for #UD only with EFER.SCE)", 0x8000_0001, 0, 'd', 11 },
        { "RDTSCP", 0x8000_0001, 0, 'd', 27 },
    };

    [Theory]
    [MemberData(nameof(ReportedInstructionSets))]
    public void KvmIntel_EveryReportedInstructionSet_Runs(string feature, uint leaf, uint subleaf, char register, int bit)
    {
        var (a, b, c, d) = CpuidModel.Query(VcpuType.KvmIntel, leaf, subleaf);
        uint value = register switch { 'a' => a, 'b' => b, 'c' => c, _ => d };
        Assert.True((value & (1u << bit)) != 0, $"{feature}: the table no longer reports it; drop the row");
        var exit = Run(feature);
        Assert.True(exit is CpuExit.Halt, $"{feature}: {exit}");
    }

    [Theory]
    [InlineData(VcpuType.KvmIntel)]
    [InlineData(VcpuType.Qemu64)]
    public void EveryTable_HidesWhatTheCpuLacks(VcpuType type)
    {
        var (_, _, c1, d1) = CpuidModel.Query(type, 1, 0);
        var (_, b7, c7, d7) = CpuidModel.Query(type, 7, 0);
        // No MMX registers, no virtual-8086 mode, no PSE-36 or CR4.DE rules, no MCE banks (1.EDX 23, 1, 17, 2, 7, 14).
        Assert.Equal(0u, d1 & ((1u << 23) | (1u << 1) | (1u << 17) | (1u << 2) | (1u << 7) | (1u << 14)));
        // No SSE3, SSSE3, SSE4.1/4.2, AVX, MONITOR (1.ECX 0, 9, 19, 20, 28, 3); no BMI1/2, AVX2, RTM/HLE, PKU, CET.
        Assert.Equal(0u, c1 & ((1u << 0) | (1u << 9) | (1u << 19) | (1u << 20) | (1u << 28) | (1u << 3)));
        Assert.Equal(0u, b7 & ((1u << 3) | (1u << 8) | (1u << 5) | (1u << 11) | (1u << 4)));
        Assert.Equal(0u, c7 & ((1u << 3) | (1u << 7)));
        Assert.Equal(0u, d7 & (1u << 20));
    }

    private static CpuExit Run(string feature)
    {
        var asm = new Assembler(64);
        switch (feature.Split(' ')[0])
        {
            case "CX16": asm.mov(rax, 0); asm.mov(rdx, 0); asm.cmpxchg16b(__xmmword_ptr[Scratch]); break;
            case "MOVBE": asm.movbe(eax, __dword_ptr[Scratch]); break;
            case "POPCNT": asm.popcnt(rax, rbx); break;
            case "XSAVE": asm.mov(eax, 3); asm.xor(edx, edx); asm.xsave(__[Scratch]); break;
            case "RDRAND": asm.rdrand(rax); break;
            case "FSGSBASE": asm.rdfsbase(rax); asm.wrgsbase(rax); break;
            case "INVPCID": asm.mov(ecx, 2); asm.invpcid(rcx, __xmmword_ptr[Scratch]); break;
            case "RDSEED": asm.rdseed(rax); break;
            case "SMAP": asm.stac(); asm.clac(); break;
            case "RDPID": asm.rdpid(rax); break;
            case "XSAVEOPT": asm.mov(eax, 3); asm.xor(edx, edx); asm.xsaveopt(__[Scratch]); break;
            case "LAHF/SAHF": asm.lahf(); asm.sahf(); break;
            case "LZCNT": asm.lzcnt(rax, rbx); break;
            case "SYSCALL": asm.nop(); break; // entering the kernel needs LSTAR and a handler; the user-mode tests run it
            case "RDTSCP": asm.rdtscp(); break;
            default: throw new ArgumentException(feature);
        }

        asm.hlt();
        var stream = new MemoryStream();
        asm.Assemble(new StreamCodeWriter(stream), Code);
        using var ram = new RamPlatform(4 << 20);
        ram.Write(0x1000, BitConverter.GetBytes(0x2003UL));
        ram.Write(0x2000, BitConverter.GetBytes(0x3003UL));
        ram.Write(0x3000, BitConverter.GetBytes(0x83UL));
        ram.Write(0x3008, BitConverter.GetBytes(0x20_0083UL));
        ram.Write(Code, stream.ToArray());
        // CR4: PAE, OSFXSR, OSXMMEXCPT, FSGSBASE, PCIDE, OSXSAVE, SMAP; EFER: SCE, LME, LMA, NXE.
        var s = new CpuState { Cr0 = 0x8000_0011, Cr3 = 0x1000, Cr4 = 0x20 | 0x600 | 0x1_0000 | 0x2_0000 | 0x4_0000 | 0x20_0000, Efer = 0xD01, Rip = Code, Xcr0 = 3 };
        for (int i = 0; i < 6; i++)
        {
            s.Segments[i] = new Segment(0x10, 0, 0xFFFF_FFFF, 0xC93);
        }

        s.Cs = new Segment(0x08, 0, 0xFFFF_FFFF, 0xA9B);
        s.Gpr[4] = 0x30_0000;
        return new X86Cpu(ram, s, CpuVendor.Intel).Run(100);
    }
}
