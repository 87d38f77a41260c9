using System.Buffers.Binary;

namespace CocoLaunch.Vmm.Acpi;

/// <summary>The 12-byte Generic Address Structure (ACPI 6.5 §5.2.3.2, Table 5.1).</summary>
internal static class GenericAddress
{
    public const int Size = 12;
    public const byte SystemIo = 1;
    public const byte ByteAccess = 1;

    private const int AddressSpaceId = 0;
    private const int RegisterBitWidth = 1;
    private const int RegisterBitOffset = 2;
    private const int AccessSize = 3;
    private const int Address = 4;

    /// <summary>A one-byte register in I/O space.</summary>
    public static void WriteIoByte(Span<byte> destination, ushort port)
    {
        destination[AddressSpaceId] = SystemIo;
        destination[RegisterBitWidth] = 8;
        destination[RegisterBitOffset] = 0;
        destination[AccessSize] = ByteAccess;
        BinaryPrimitives.WriteUInt64LittleEndian(destination[Address..], port);
    }
}
