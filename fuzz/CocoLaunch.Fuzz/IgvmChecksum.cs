using System.Buffers.Binary;

namespace CocoLaunch.Fuzz;

/// <summary>
/// Makes a mutated IGVM file's fixed header self-consistent for the igvm-crc target: afl's byte mutations almost
/// never keep the CRC-32, so without this nearly every input stops at the checksum check (round 5's igvm run kept
/// 14 inputs). The checks this skips (total_file_size, the checksum) stay fuzzed by the plain igvm target.
/// </summary>
internal static class IgvmChecksum
{
    private const uint Magic = 0x4D564749; // "IGVM"
    private const int TotalFileSizeAt = 0x10, ChecksumAt = 0x14;

    /// <summary>
    /// A copy of <paramref name="input"/> with total_file_size set to its length and the checksum recomputed (CRC-32 of
    /// the fixed header with the field zeroed, then the variable headers), when the magic, the version and the variable
    /// headers' range let a header be fixed; otherwise the input unchanged, for the reader to refuse.
    /// </summary>
    public static byte[] Fix(byte[] input)
    {
        if (input.Length < 8 || BinaryPrimitives.ReadUInt32LittleEndian(input) != Magic)
        {
            return input;
        }

        uint version = BinaryPrimitives.ReadUInt32LittleEndian(input.AsSpan(4));
        int fixedSize = version switch { 1 => 24, 2 => 32, _ => 0 };
        if (fixedSize == 0 || input.Length < fixedSize)
        {
            return input;
        }

        byte[] file = (byte[])input.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(TotalFileSizeAt), (uint)file.Length);
        ulong varOffset = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(8));
        ulong varSize = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(12));
        if (varOffset + varSize > (ulong)file.Length)
        {
            return file;
        }

        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(ChecksumAt), 0);
        uint crc = Crc32(0, file.AsSpan(0, fixedSize));
        crc = Crc32(crc, file.AsSpan((int)varOffset, (int)varSize));
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(ChecksumAt), crc);
        return file;
    }

    /// <summary>
    /// CRC-32 (zlib: reflected 0xEDB88320), bit by bit: the harness does not use the product's table (internal, and
    /// instrumented), so a wrong table there would show as checksum errors here rather than be hidden.
    /// </summary>
    private static uint Crc32(uint crc, ReadOnlySpan<byte> bytes)
    {
        crc = ~crc;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc >> 1) ^ (0xEDB88320 & (0u - (crc & 1)));
            }
        }

        return ~crc;
    }
}
