using System.Buffers.Binary;
using System.Text;

namespace CocoLaunch.Vmm.Acpi;

/// <summary>
/// The 128-byte commands of QEMU's table-loader script (hw/acpi/bios-linker-loader.c): a u32 command, then its
/// arguments, file names in 56-byte NUL-padded fields, the rest zero.
/// </summary>
internal static class TableLoaderCommand
{
    public const int Size = 128, FileNameSize = 56;

    /// <summary>QEMU pads the script to a multiple of 4 KiB (hw/i386/acpi-build.c ACPI_BUILD_ALIGN_SIZE).</summary>
    public const int ScriptAlignment = 0x1000;

    /// <summary>ALLOCATE zones: anywhere below 4 GiB, or the F segment (0xF0000-0xFFFFF), where BIOSes look for an RSDP.</summary>
    public const byte ZoneHigh = 1, ZoneFseg = 2;

    private const uint AllocateCommand = 1, AddPointerCommand = 2, AddChecksumCommand = 3;

    // Argument offsets after the command word.
    private const int FirstFile = 4, SecondFile = FirstFile + FileNameSize;
    private const int AllocateAlignment = SecondFile, AllocateZone = SecondFile + 4;
    private const int PointerOffset = SecondFile + FileNameSize, PointerSize = PointerOffset + 4;
    private const int ChecksumResult = SecondFile, ChecksumStart = SecondFile + 4, ChecksumLength = SecondFile + 8;

    /// <summary>ALLOCATE file, aligned, in a zone: the firmware downloads the file to memory it allocates.</summary>
    public static byte[] Allocate(string file, uint alignment, byte zone)
    {
        byte[] c = Command(AllocateCommand, file);
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(AllocateAlignment), alignment);
        c[AllocateZone] = zone;
        return c;
    }

    /// <summary>ADD_POINTER: adds the source file's address to the little-endian pointer of <paramref name="size"/> bytes at offset in destination.</summary>
    public static byte[] AddPointer(string destination, string source, uint offset, byte size)
    {
        byte[] c = Command(AddPointerCommand, destination);
        Encoding.ASCII.GetBytes(source, c.AsSpan(SecondFile));
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(PointerOffset), offset);
        c[PointerSize] = size;
        return c;
    }

    /// <summary>ADD_CHECKSUM: makes the bytes [start, start + length) of file sum to zero by adjusting the byte at result.</summary>
    public static byte[] AddChecksum(string file, uint result, uint start, uint length)
    {
        byte[] c = Command(AddChecksumCommand, file);
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(ChecksumResult), result);
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(ChecksumStart), start);
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(ChecksumLength), length);
        return c;
    }

    private static byte[] Command(uint command, string file)
    {
        var c = new byte[Size];
        BinaryPrimitives.WriteUInt32LittleEndian(c, command);
        Encoding.ASCII.GetBytes(file, c.AsSpan(FirstFile));
        return c;
    }
}
