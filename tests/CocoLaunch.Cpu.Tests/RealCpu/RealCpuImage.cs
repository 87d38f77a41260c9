using System.Buffers.Binary;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CocoLaunch.Cpu.Tests;

/// <summary>
/// The fixed low memory of the <see cref="RealCpu"/> guest: descriptor tables, page tables and the exception
/// handlers that report a fault through <see cref="Record"/> and halt. Written once when the VM is created.
/// </summary>
internal static class RealCpuImage
{
    public const ulong Ivt = 0x0000;
    public const ulong Record = 0x0800;
    public const ulong Gdt = 0x1000;
    public const ulong Idt64 = 0x2000;
    public const ulong Idt32 = 0x2800;
    public const ulong Tss = 0x2C00;
    public const ulong Tss32 = 0x2D00;
    public const ulong Handlers64 = 0x3000;
    public const ulong Handlers32 = 0x3800;
    public const ulong Handlers16 = 0x4000;
    public const ulong Pml4 = 0x5000;
    public const ulong Pdpt = 0x6000;
    public const ulong Pd = 0x7000;
    public const ulong ExceptionStackTop = 0xA000;

    public const ushort Code64Selector = 0x08;
    public const ushort DataSelector = 0x10;
    public const ushort Code32Selector = 0x18;
    public const ushort TssSelector = 0x20;
    public const ushort UserDataSelector = 0x30 | 3;
    public const ushort UserCode64Selector = 0x38 | 3;
    public const ushort UserCode32Selector = 0x40 | 3;
    public const ushort Tss32Selector = 0x48;
    public const ushort GdtLimit = (10 * 8) - 1;

    /// <summary>Record layout: vector, error code, then the frame's RIP, CS, RFLAGS, RSP (a u64 slot each).</summary>
    public const int RecordVector = 0;
    public const int RecordErrorCode = 8;
    public const int RecordRip = 16;
    public const int RecordCs = 24;
    public const int RecordRflags = 32;
    public const int RecordRsp = 40;
    public const int RecordSize = 64;

    public const int VectorCount = 32;
    private const int HandlerStride = 64;

    /// <summary>The vectors that push an error code in protected and long mode.</summary>
    public static bool HasErrorCode(int vector) => vector is 8 or (>= 10 and <= 14) or 17 or 21 or 29 or 30;

    public static void Write(Span<byte> memory)
    {
        WriteGdtAndTss(memory);
        WritePageTables(memory);
        for (int v = 0; v < VectorCount; v++)
        {
            ulong h64 = Handlers64 + (ulong)(v * HandlerStride);
            ulong h32 = Handlers32 + (ulong)(v * HandlerStride);
            ulong h16 = Handlers16 + (ulong)(v * HandlerStride);
            Put(memory, h64, Handler(64, h64, v));
            Put(memory, h32, Handler(32, h32, v));
            Put(memory, h16, Handler(16, h16, v));

            // 64-bit interrupt gate, IST 1: a fault must not depend on the RSP the code under test left behind.
            var gate = memory[(int)(Idt64 + (ulong)(v * 16))..];
            BinaryPrimitives.WriteUInt64LittleEndian(gate, (h64 & 0xFFFF) | ((ulong)Code64Selector << 16) | (1UL << 32) | (0x8EUL << 40) | (((h64 >> 16) & 0xFFFF) << 48));
            BinaryPrimitives.WriteUInt64LittleEndian(gate[8..], h64 >> 32);
            BinaryPrimitives.WriteUInt64LittleEndian(memory[(int)(Idt32 + (ulong)(v * 8))..], (h32 & 0xFFFF) | ((ulong)Code32Selector << 16) | (0x8EUL << 40) | (((h32 >> 16) & 0xFFFF) << 48));
            BinaryPrimitives.WriteUInt32LittleEndian(memory[(int)(Ivt + (ulong)(v * 4))..], (uint)h16);
        }
    }

    private static void WriteGdtAndTss(Span<byte> memory)
    {
        var gdt = memory[(int)Gdt..];
        BinaryPrimitives.WriteUInt64LittleEndian(gdt[Code64Selector..], 0x00AF9B000000FFFF);
        BinaryPrimitives.WriteUInt64LittleEndian(gdt[DataSelector..], 0x00CF93000000FFFF);
        BinaryPrimitives.WriteUInt64LittleEndian(gdt[Code32Selector..], 0x00CF9B000000FFFF);
        BinaryPrimitives.WriteUInt64LittleEndian(gdt[TssSelector..], TssDescriptor(Tss));
        BinaryPrimitives.WriteUInt64LittleEndian(gdt[(UserDataSelector & ~3)..], 0x00CFF3000000FFFF);
        BinaryPrimitives.WriteUInt64LittleEndian(gdt[(UserCode64Selector & ~3)..], 0x00AFFB000000FFFF);
        BinaryPrimitives.WriteUInt64LittleEndian(gdt[(UserCode32Selector & ~3)..], 0x00CFFB000000FFFF);
        BinaryPrimitives.WriteUInt64LittleEndian(gdt[Tss32Selector..], TssDescriptor(Tss32));

        // 64-bit TSS: RSP0 for faults from CPL 3, IST1 for every fault; no I/O bitmap.
        var tss = memory[(int)Tss..];
        BinaryPrimitives.WriteUInt64LittleEndian(tss[0x04..], ExceptionStackTop);
        BinaryPrimitives.WriteUInt64LittleEndian(tss[0x24..], ExceptionStackTop);
        BinaryPrimitives.WriteUInt16LittleEndian(tss[0x66..], 0x68);

        // 32-bit TSS: ESP0 and SS0 for the ring switch.
        var tss32 = memory[(int)Tss32..];
        BinaryPrimitives.WriteUInt32LittleEndian(tss32[0x04..], (uint)ExceptionStackTop);
        BinaryPrimitives.WriteUInt16LittleEndian(tss32[0x08..], DataSelector);
        BinaryPrimitives.WriteUInt16LittleEndian(tss32[0x66..], 0x68);
    }

    /// <summary>A busy TSS descriptor (type 11), limit 0x67, for a base below 4 GiB.</summary>
    private static ulong TssDescriptor(ulong tssBase) => 0x67 | ((tssBase & 0xFFFFFF) << 16) | (0x8BUL << 40) | (((tssBase >> 24) & 0xFF) << 56);

    private static void WritePageTables(Span<byte> memory)
    {
        // User-accessible (U/S) throughout: the code under test runs at CPL 3 (see RealCpuMode).
        BinaryPrimitives.WriteUInt64LittleEndian(memory[(int)Pml4..], Pdpt | 7);
        BinaryPrimitives.WriteUInt64LittleEndian(memory[(int)Pdpt..], Pd | 7);
        for (ulong page = 0; page < RealCpu.MemorySize / 0x20_0000; page++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(memory[(int)(Pd + (page * 8))..], (page * 0x20_0000) | 0x87);
        }
    }

    /// <summary>
    /// Saves the vector, the error code and the frame into the record with memory-only instructions (so every GPR
    /// keeps the faulting value), then halts. A 32-bit frame has ESP only when the fault came from CPL 3; real mode
    /// addresses the record through CS, as DS is the code's.
    /// </summary>
    private static byte[] Handler(int bitness, ulong rip, int vector)
    {
        var a = new Assembler(bitness);
        var halt = a.CreateLabel();
        if (bitness == 64)
        {
            a.mov(__qword_ptr[Record + RecordVector], vector);
            if (HasErrorCode(vector))
            {
                a.pop(__qword_ptr[Record + RecordErrorCode]);
            }

            a.pop(__qword_ptr[Record + RecordRip]);
            a.pop(__qword_ptr[Record + RecordCs]);
            a.pop(__qword_ptr[Record + RecordRflags]);
            a.pop(__qword_ptr[Record + RecordRsp]);
        }
        else if (bitness == 32)
        {
            var kernel = a.CreateLabel();
            a.mov(__dword_ptr[Record + RecordVector], vector);
            if (HasErrorCode(vector))
            {
                a.pop(__dword_ptr[Record + RecordErrorCode]);
            }

            a.pop(__dword_ptr[Record + RecordRip]);
            a.pop(__dword_ptr[Record + RecordCs]);
            a.pop(__dword_ptr[Record + RecordRflags]);
            a.test(__byte_ptr[Record + RecordCs], 3);
            a.jz(kernel);
            a.pop(__dword_ptr[Record + RecordRsp]);
            a.jmp(halt);
            a.Label(ref kernel);
            a.mov(__dword_ptr[Record + RecordRsp], esp);
        }
        else
        {
            a.mov(__word_ptr.cs[Record + RecordVector], (ushort)vector);
            a.pop(__word_ptr.cs[Record + RecordRip]);
            a.pop(__word_ptr.cs[Record + RecordCs]);
            a.pop(__word_ptr.cs[Record + RecordRflags]);
            a.mov(__word_ptr.cs[Record + RecordRsp], sp);
        }

        // HLT, and back to it should anything wake the vCPU.
        a.Label(ref halt);
        a.hlt();
        a.jmp(halt);
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), rip);
        return stream.Length <= HandlerStride ? stream.ToArray() : throw new InvalidOperationException($"handler {vector} is {stream.Length} bytes");
    }

    public static byte[] Assemble(int bitness, ulong rip, IEnumerable<Instruction> instructions)
    {
        using var stream = new MemoryStream();
        var encoder = Encoder.Create(bitness, new StreamCodeWriter(stream));
        foreach (var instruction in instructions)
        {
            rip += encoder.Encode(instruction, rip);
        }

        return stream.ToArray();
    }

    private static void Put(Span<byte> memory, ulong address, ReadOnlySpan<byte> bytes) => bytes.CopyTo(memory[(int)address..]);
}
