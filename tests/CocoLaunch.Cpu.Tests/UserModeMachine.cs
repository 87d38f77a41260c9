using Iced.Intel;

namespace CocoLaunch.Cpu.Tests;

/// <summary>
/// A <see cref="LongModeMachine"/> with a kernel/user split as Linux lays one out: the first 2 MiB are supervisor
/// pages (kernel code at <see cref="LongModeMachine.CodeAddress"/>, the IDT whose vector n handler is a HLT at
/// 0x5000 + n), the next 2 MiB user pages; a GDT with the kernel and user segments in SYSCALL/SYSRET order and a
/// 64-bit TSS with RSP0 and IST1. Nothing is enabled beyond that: tests set EFER.SCE, the MSRs and CR4 bits.
/// </summary>
internal static class UserModeMachine
{
    public const ushort KernelCs = 0x08, KernelSs = 0x10, UserCs32 = 0x18 | 3, UserSs = 0x20 | 3, UserCs = 0x28 | 3, TssSelector = 0x30;

    /// <summary>STAR as Linux writes it: SYSCALL CS 0x08 (SS 0x10), SYSRET base 0x1B (CS 0x2B, SS 0x23; 32-bit CS 0x1B).</summary>
    public const ulong Star = (0x1BUL << 48) | (0x08UL << 32);

    public const ulong UserCode = 0x20_1000, UserStackTop = 0x3F_0000, SyscallEntry = 0x10_8000, SupervisorData = 0x10_F000;
    public const ulong Rsp0 = 0x9_0000, Ist1 = 0x8_0000;
    public const ulong Handlers = 0x5000;
    private const ulong Pd = 0x3000, Gdt = 0x6000, Tss = 0x7000, Idt = 0x4000;

    public static LongModeMachine Create(CpuVendor vendor = CpuVendor.Amd)
    {
        var m = new LongModeMachine(vendor: vendor);
        VectorReplayTests.InstallExceptionHandlers(m);
        // U/S at every level; the leaf decides: 0–2 MiB supervisor, 2–4 MiB user.
        m.Ram.Write(0x1000, BitConverter.GetBytes(0x2000UL | 7));
        m.Ram.Write(0x2000, BitConverter.GetBytes(Pd | 7));
        m.Ram.Write(Pd, BitConverter.GetBytes(0x83UL));
        m.Ram.Write(Pd + 8, BitConverter.GetBytes(0x20_0000UL | 0x87));
        ulong[] gdt =
        [
            0,
            0x00AF_9B00_0000_FFFF, // 0x08 kernel code, 64-bit
            0x00CF_9300_0000_FFFF, // 0x10 kernel data
            0x00CF_FB00_0000_FFFF, // 0x18 user code, 32-bit
            0x00CF_F300_0000_FFFF, // 0x20 user data
            0x00AF_FB00_0000_FFFF, // 0x28 user code, 64-bit
            0x0000_8900_0000_0067 | ((Tss & 0xFF_FFFF) << 16), // 0x30 available 64-bit TSS (16 bytes)
            0,
        ];
        for (int n = 0; n < gdt.Length; n++)
        {
            m.Ram.Write(Gdt + (ulong)(8 * n), BitConverter.GetBytes(gdt[n]));
        }

        m.State.Gdtr = new DescriptorTable { Base = Gdt, Limit = (ushort)((8 * gdt.Length) - 1) };
        m.Ram.Write(Tss + 4, BitConverter.GetBytes(Rsp0));
        m.Ram.Write(Tss + 0x24, BitConverter.GetBytes(Ist1));
        m.State.Segments[(int)SegmentName.Cs] = new Segment(KernelCs, 0, 0xFFFF_FFFF, 0xA9B);
        m.State.Gpr[4] = Rsp0 - 0x1000; // the kernel's stack is a supervisor page, as SMAP wants
        for (int s = 0; s < 6; s++)
        {
            if (s != (int)SegmentName.Cs)
            {
                m.State.Segments[s] = new Segment(KernelSs, 0, 0xFFFF_FFFF, 0xC93);
            }
        }

        return m;
    }

    /// <summary>Gives vector <paramref name="vector"/>'s gate an IST index (bits 34:32 of its low quadword).</summary>
    public static void SetIst(LongModeMachine m, int vector, int ist)
    {
        ulong at = Idt + (ulong)(16 * vector);
        ulong low = BitConverter.ToUInt64(m.Ram.Read(at, 8));
        m.Ram.Write(at, BitConverter.GetBytes((low & ~(7UL << 32)) | ((ulong)ist << 32)));
    }

    /// <summary>Assembles code at <paramref name="rip"/> into RAM.</summary>
    public static void Place(LongModeMachine m, ulong rip, Action<Assembler> build) => PlaceMarked(m, rip, a =>
    {
        build(a);
        return null;
    });

    /// <summary>Assembles code at <paramref name="rip"/> into RAM; returns the address of the label the builder returns.</summary>
    public static ulong PlaceMarked(LongModeMachine m, ulong rip, Func<Assembler, Label?> build, int bitness = 64)
    {
        var a = new Assembler(bitness);
        var mark = build(a);
        var stream = new MemoryStream();
        var result = a.Assemble(new StreamCodeWriter(stream), rip, BlockEncoderOptions.ReturnNewInstructionOffsets);
        m.Ram.Write(rip, stream.ToArray());
        m.Cpu.FlushCodeCache();
        return mark is { } label ? result.GetLabelRIP(label) : 0;
    }

    /// <summary>Where a fault's HLT handler stopped: the vector, or null when the run ended elsewhere.</summary>
    public static int? Vector(CpuExit exit) => exit is CpuExit.Halt h && h.Rip > Handlers && h.Rip <= Handlers + 32 ? (int)(h.Rip - Handlers - 1) : null;

    /// <summary>Quadword <paramref name="index"/> of the exception frame on the handler's stack.</summary>
    public static ulong Frame(LongModeMachine m, int index) => BitConverter.ToUInt64(m.Ram.Read(m.State.Gpr[4] + (ulong)(8 * index), 8));
}
