using System.Buffers.Binary;
using System.Text;

namespace CocoLaunch.Firmware.Tdx;

/// <summary>The 128-byte buffers TDH.MEM.PAGE.ADD and TDH.MR.EXTEND feed into MRTD (tdx-mrtd.md §2).</summary>
public static class MrtdRecords
{
    /// <summary>The module hashes in SHA-384 blocks.</summary>
    public const int BufferSize = 128;

    /// <summary>MR.EXTEND measures a page in 256-byte chunks, 16 per 4 KiB page.</summary>
    public const int ExtendChunk = 256;

    private const int GpaOffset = 16;
    private static readonly byte[] PageAddTag = Encoding.ASCII.GetBytes("MEM.PAGE.ADD");
    private static readonly byte[] ExtendTag = Encoding.ASCII.GetBytes("MR.EXTEND");

    /// <summary>ASCII "MEM.PAGE.ADD", zeros, the page GPA at byte 16, zeros to 128.</summary>
    public static void PageAdd(ulong gpa, Span<byte> buffer) => Header(PageAddTag, gpa, buffer);

    /// <summary>ASCII "MR.EXTEND", zeros, the chunk GPA at byte 16, zeros to 128 (the chunk's 256 bytes follow).</summary>
    public static void Extend(ulong chunkGpa, Span<byte> buffer) => Header(ExtendTag, chunkGpa, buffer);

    private static void Header(byte[] tag, ulong gpa, Span<byte> buffer)
    {
        buffer[..BufferSize].Clear();
        tag.CopyTo(buffer);
        BinaryPrimitives.WriteUInt64LittleEndian(buffer[GpaOffset..], gpa);
    }
}
