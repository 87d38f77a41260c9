using System.Buffers.Binary;

namespace CocoLaunch.Vmm.Acpi;

/// <summary>
/// Large resource descriptors (ACPI 6.5 §6.4.3): a tag byte, a 16-bit length of what follows, then the fields.
/// QEMU's q35 DSDT uses the extended interrupt, the fixed 32-bit memory range and the Word, DWord and QWord address
/// spaces for the host bridge's windows.
/// </summary>
internal static partial class ResourceTemplate
{
    private const byte Memory32FixedTag = 0x86;
    private const byte DWordAddressTag = 0x87;
    private const byte WordAddressTag = 0x88;
    private const byte ExtendedInterruptTag = 0x89;
    private const byte QWordAddressTag = 0x8A;

    // Interrupt vector flags (Table 6.58): bit 0 consumer, bit 1 edge, bit 2 active-low, bit 3 shared.
    private const byte InterruptConsumer = 0x01;
    private const byte InterruptShared = 0x08;

    /// <summary>Address space resource types (Table 6.47).</summary>
    public enum AddressSpace : byte
    {
        Memory = 0,
        Io = 1,
        BusNumber = 2,
    }

    // General flags (Table 6.47): bit 0 consumer, bit 1 subtractive decode, bit 2 MinFixed, bit 3 MaxFixed.
    private const byte MinFixedMaxFixed = 0x0C;

    /// <summary>Memory type-specific flags (Table 6.50): ReadWrite in bit 0, caching in bits 2:1.</summary>
    public const byte ReadWrite = 0x01, Cacheable = 0x02;

    /// <summary>I/O type-specific flags (Table 6.51): EntireRange decodes ISA and non-ISA ports.</summary>
    public const byte EntireRange = 0x03;

    /// <summary>Interrupt(ResourceConsumer, Level, ActiveHigh, Shared) { irqs } (§6.4.3.6), the PCI link form.</summary>
    public static byte[] SharedLevelInterrupt(params uint[] irqs)
    {
        var d = new byte[3 + 2 + (4 * irqs.Length)];
        d[0] = ExtendedInterruptTag;
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(1), (ushort)(d.Length - 3));
        d[3] = InterruptConsumer | InterruptShared;
        d[4] = (byte)irqs.Length;
        for (int i = 0; i < irqs.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(5 + (4 * i)), irqs[i]);
        }

        return d;
    }

    /// <summary>Memory32Fixed(ReadOnly or ReadWrite, base, length) (§6.4.3.4).</summary>
    public static byte[] Memory32Fixed(bool readWrite, uint baseAddress, uint length)
    {
        var d = new byte[12];
        d[0] = Memory32FixedTag;
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(1), 9);
        d[3] = readWrite ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(4), baseAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(8), length);
        return d;
    }

    /// <summary>A producer's Word address space, MinFixed and MaxFixed, granularity and translation 0 (§6.4.3.5.3).</summary>
    public static byte[] WordRange(AddressSpace space, byte typeFlags, ushort minimum, ushort maximum) =>
        AddressRange(WordAddressTag, 2, space, typeFlags, minimum, maximum);

    /// <summary>The DWord form (§6.4.3.5.2).</summary>
    public static byte[] DWordRange(AddressSpace space, byte typeFlags, uint minimum, uint maximum) =>
        AddressRange(DWordAddressTag, 4, space, typeFlags, minimum, maximum);

    /// <summary>The QWord form (§6.4.3.5.1).</summary>
    public static byte[] QWordRange(AddressSpace space, byte typeFlags, ulong minimum, ulong maximum) =>
        AddressRange(QWordAddressTag, 8, space, typeFlags, minimum, maximum);

    /// <summary>Tag, length, type, general and type flags, then granularity, minimum, maximum, translation, length.</summary>
    private static byte[] AddressRange(byte tag, int width, AddressSpace space, byte typeFlags, ulong minimum, ulong maximum)
    {
        var d = new byte[3 + 3 + (5 * width)];
        d[0] = tag;
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(1), (ushort)(d.Length - 3));
        d[3] = (byte)space;
        d[4] = MinFixedMaxFixed;
        d[5] = typeFlags;
        ulong[] fields = [0, minimum, maximum, 0, maximum - minimum + 1];
        for (int i = 0; i < fields.Length; i++)
        {
            Span<byte> f = d.AsSpan(6 + (i * width), width);
            switch (width)
            {
                case 2: BinaryPrimitives.WriteUInt16LittleEndian(f, (ushort)fields[i]); break;
                case 4: BinaryPrimitives.WriteUInt32LittleEndian(f, (uint)fields[i]); break;
                default: BinaryPrimitives.WriteUInt64LittleEndian(f, fields[i]); break;
            }
        }

        return d;
    }
}
