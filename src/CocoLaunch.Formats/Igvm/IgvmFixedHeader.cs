using System.Buffers.Binary;

namespace CocoLaunch.Formats.Igvm;

/// <summary>
/// IGVM_FIXED_HEADER (v1, 24 bytes) or IGVM_FIXED_HEADER_V2 (32 bytes, adds the architecture and page size), at the
/// start of the file.
/// </summary>
public sealed record IgvmFixedHeader(
    uint Version,
    uint VariableHeaderOffset,
    uint VariableHeaderSize,
    uint TotalFileSize,
    uint Checksum,
    uint? Architecture,
    uint? PageSize)
{
    /// <summary>"IGVM" read as a little-endian u32 (IGVM_MAGIC_VALUE).</summary>
    public const uint Magic = 0x4D564749;

    public const int V1Size = 24, V2Size = 32;

    internal const int MagicAt = 0x00, VersionAt = 0x04, VariableHeaderOffsetAt = 0x08, VariableHeaderSizeAt = 0x0C, TotalFileSizeAt = 0x10, ChecksumAt = 0x14;
    internal const int ArchitectureAt = 0x18, PageSizeAt = 0x1C;

    private const string Label = "fixed header";

    public int Size => Version == 1 ? V1Size : V2Size;

    /// <summary>Where the file data starts: every file offset a header names must be at or past it.</summary>
    public long FileDataStart => (long)VariableHeaderOffset + VariableHeaderSize;

    public string ArchitectureName => Architecture switch
    {
        null or 0 => "x64",
        1 => "aarch64",
        _ => Hex.Of((ulong)Architecture.Value),
    };

    /// <summary>Whether the file starts with the IGVM magic: how inspect tells an IGVM file from a firmware image.</summary>
    public static bool HasMagic(ReadOnlySpan<byte> start) => start.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(start) == Magic;

    /// <summary>Reads and checks the fixed header against the file's length (the checksum is checked by the caller).</summary>
    internal static IgvmFixedHeader Parse(ReadOnlySpan<byte> file, long maxVariableHeaderSize)
    {
        Need(file, MagicAt + 4, MagicAt, "the magic");
        uint magic = U32(file, MagicAt);
        Check(magic == Magic, MagicAt, $"magic {Hex.Of((ulong)magic)} is not \"IGVM\" ({Hex.Of((ulong)Magic)})");
        Need(file, VersionAt + 4, VersionAt, "the format version");
        uint version = U32(file, VersionAt);
        Check(version is 1 or 2, VersionAt, $"format version {version} is not 1 or 2");
        int size = version == 1 ? V1Size : V2Size;
        Need(file, size, file.Length, $"the {size}-byte version {version} fixed header");

        uint? arch = null, pageSize = null;
        if (version == 2)
        {
            arch = U32(file, ArchitectureAt);
            pageSize = U32(file, PageSizeAt);
            Check(arch is 0 or 1, ArchitectureAt, $"architecture {Hex.Of((ulong)arch)} is not x64 (0) or aarch64 (1)");
            Check(pageSize == 4096, PageSizeAt, $"page size {Hex.Of((ulong)pageSize)} is not 4 KiB, the only one defined");
        }

        uint total = U32(file, TotalFileSizeAt);
        Check(total == file.Length, TotalFileSizeAt, $"total_file_size {Hex.Of((ulong)total)} is not the file's size {Hex.Of((ulong)file.Length)}");
        uint varOffset = U32(file, VariableHeaderOffsetAt), varSize = U32(file, VariableHeaderSizeAt);
        Check(varOffset >= size && varOffset % 8 == 0, VariableHeaderOffsetAt,
            $"variable_header_offset {Hex.Of((ulong)varOffset)} is not 8-byte aligned at or after the {size}-byte fixed header");
        Check((ulong)varOffset + varSize <= (ulong)file.Length, VariableHeaderSizeAt,
            $"the variable headers {Hex.Range(varOffset, (ulong)varOffset + varSize)} run past the file's end ({Hex.Of((ulong)file.Length)})");
        Check(varSize <= maxVariableHeaderSize, VariableHeaderSizeAt,
            $"variable_header_size {Hex.Of((ulong)varSize)} is more than the {maxVariableHeaderSize >> 20} MiB this reader accepts");
        return new IgvmFixedHeader(version, varOffset, varSize, total, U32(file, ChecksumAt), arch, pageSize);
    }

    /// <summary>The CRC-32 of the fixed header (checksum field as zero) followed by the variable headers.</summary>
    internal uint ComputeChecksum(ReadOnlySpan<byte> file)
    {
        Span<byte> fixedHeader = stackalloc byte[Size];
        file[..Size].CopyTo(fixedHeader);
        fixedHeader.Slice(ChecksumAt, 4).Clear();
        uint crc = Crc32.Of(fixedHeader);
        return Crc32.Append(crc, file.Slice((int)VariableHeaderOffset, (int)VariableHeaderSize));
    }

    private static void Need(ReadOnlySpan<byte> file, int bytes, long at, string what) =>
        Check(file.Length >= bytes, Math.Min(at, file.Length), $"the file ({file.Length} bytes) ends before {what}");

    private static void Check(bool ok, long at, string problem)
    {
        if (!ok)
        {
            throw new IgvmFormatException(Label, at, problem);
        }
    }

    private static uint U32(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b[at..]);
}
