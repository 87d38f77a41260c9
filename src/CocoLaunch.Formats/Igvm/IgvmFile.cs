using System.Buffers.Binary;

namespace CocoLaunch.Formats.Igvm;

/// <summary>
/// A whole IGVM file (microsoft/igvm igvm_defs/src/lib.rs; summary in /work/shared/spec/formats-and-peers.md §3):
/// the fixed header, then the variable headers in file order, every one checked. A file this returns is one a
/// strict loader would accept; anything else is an <see cref="IgvmFormatException"/> naming the header and offset.
/// </summary>
public sealed class IgvmFile
{
    /// <summary>
    /// The most variable-header bytes read: 16 MiB is half a million page directives (2 GiB of pages), far above
    /// real files, and keeps the records a hostile file can make bounded whatever its size.
    /// </summary>
    public const long MaxVariableHeaderSize = 16L << 20;

    private const int TypeLengthSize = 8;

    private IgvmFile(IgvmFixedHeader fixedHeader, IReadOnlyList<IgvmHeader> headers)
    {
        FixedHeader = fixedHeader;
        Headers = headers;
        Platforms = headers.OfType<IgvmSupportedPlatform>().ToList();
    }

    public IgvmFixedHeader FixedHeader { get; }

    /// <summary>Every variable header in file order, the ignored ones included.</summary>
    public IReadOnlyList<IgvmHeader> Headers { get; }

    public IReadOnlyList<IgvmSupportedPlatform> Platforms { get; }

    /// <summary>"sev-snp|tdx": the platforms a compatibility mask names.</summary>
    public string PlatformNames(uint mask) =>
        string.Join('|', Platforms.Where(p => (p.Mask & mask) != 0).Select(p => p.PlatformName));

    /// <summary>Page-data directives per platform, in the order the platforms are declared.</summary>
    public IReadOnlyList<IgvmPageSummary> PageSummary() =>
        Platforms.Select(p => IgvmPageSummary.Of(p, Headers.OfType<IgvmPageData>().Where(d => (d.Mask & p.Mask) != 0))).ToList();

    /// <exception cref="IgvmFormatException">The file breaks a rule of the format.</exception>
    public static IgvmFile Parse(ReadOnlySpan<byte> file)
    {
        var fixedHeader = IgvmFixedHeader.Parse(file, MaxVariableHeaderSize);
        uint checksum = fixedHeader.ComputeChecksum(file);
        if (checksum != fixedHeader.Checksum)
        {
            throw new IgvmFormatException("fixed header", IgvmFixedHeader.ChecksumAt,
                $"checksum {Hex.Of((ulong)fixedHeader.Checksum)} is not the CRC-32 of the fixed and variable headers ({Hex.Of((ulong)checksum)})");
        }

        var rules = new IgvmRules(fixedHeader.FileDataStart, file.Length);
        var headers = new List<IgvmHeader>();
        long at = fixedHeader.VariableHeaderOffset;
        long end = fixedHeader.FileDataStart;
        var section = IgvmSection.Platform;
        while (at < end)
        {
            int index = headers.Count;
            var header = Next(file, at, end, index, ref section, fixedHeader.FileDataStart, out long next);
            rules.Check(header, file);
            headers.Add(header);
            at = next;
        }

        rules.CheckEnd(fixedHeader.VariableHeaderOffset);
        return new IgvmFile(fixedHeader, headers);
    }

    /// <summary>Reads the type-length-value at <paramref name="at"/>: bounds, padding, type, section order, length, then the value.</summary>
    private static IgvmHeader Next(ReadOnlySpan<byte> file, long at, long end, int index, ref IgvmSection section, long fileDataStart, out long next)
    {
        string unnamed = $"header #{index}";
        if (end - at < TypeLengthSize)
        {
            throw new IgvmFormatException(unnamed, at, $"its type and length (8 bytes) run past the end of the variable headers ({Hex.Of(end)})");
        }

        uint rawType = BinaryPrimitives.ReadUInt32LittleEndian(file[(int)at..]);
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(file[(int)(at + 4)..]);
        uint type = rawType & ~IgvmNames.MayIgnoreBit;
        string label = $"header #{index} ({IgvmNames.Of((IgvmHeaderType)type)})";
        long valueEnd = at + TypeLengthSize + length;
        next = (valueEnd + 7) & ~7L;
        if (next > end)
        {
            throw new IgvmFormatException(label, at + 4, $"length {Hex.Of((ulong)length)} runs past the end of the variable headers ({Hex.Of(end)})");
        }

        int padding = file[(int)valueEnd..(int)next].IndexOfAnyExcept((byte)0);
        if (padding >= 0)
        {
            throw new IgvmFormatException(label, valueEnd + padding, "the padding to the next 8-byte boundary is not zero");
        }

        if (!IgvmNames.IsKnown(type) || type == (uint)IgvmHeaderType.ReservedDoNotUse)
        {
            return (rawType & IgvmNames.MayIgnoreBit) != 0
                ? new IgvmIgnoredHeader(index, at, rawType, length)
                : throw new IgvmFormatException(label, at, type == (uint)IgvmHeaderType.ReservedDoNotUse
                    ? "type 0x306 is retired (RESERVED_DO_NOT_USE) and the may-ignore bit (bit 31) is clear"
                    : $"unknown type {Hex.Of((ulong)rawType)} without the may-ignore bit (bit 31)");
        }

        var headerSection = IgvmNames.SectionOf(type)!.Value;
        if (headerSection < section)
        {
            throw new IgvmFormatException(label, at, $"a {Name(headerSection)} header after {Name(section)} headers (the sections go platform, initialization, directives, never back)");
        }

        section = headerSection;
        int expected = IgvmHeaderDecoder.ValueSize((IgvmHeaderType)type);
        if (length != expected)
        {
            throw new IgvmFormatException(label, at + 4, $"length {Hex.Of((ulong)length)} is not the structure's size ({Hex.Of((ulong)expected)})");
        }

        return IgvmHeaderDecoder.Decode(file, at, index, rawType, fileDataStart);
    }

    private static string Name(IgvmSection section) => section switch
    {
        IgvmSection.Platform => "platform",
        IgvmSection.Initialization => "initialization",
        _ => "directive",
    };
}

/// <summary>The page-data directives that apply to one platform, by kind.</summary>
public sealed record IgvmPageSummary(IgvmSupportedPlatform Platform, int Pages, ulong Bytes, int Measured, int Unmeasured, int Shared, int Zero)
{
    /// <summary>A shared page counts as shared only; an unmeasured one that is not shared as unmeasured; the rest are measured.</summary>
    public static IgvmPageSummary Of(IgvmSupportedPlatform platform, IEnumerable<IgvmPageData> pages)
    {
        int count = 0, measured = 0, unmeasured = 0, shared = 0, zero = 0;
        ulong bytes = 0;
        foreach (var p in pages)
        {
            count++;
            bytes += p.Size;
            zero += p.IsZeroPage ? 1 : 0;
            if (p.Flags.HasFlag(IgvmPageDataFlags.Shared))
            {
                shared++;
            }
            else if (p.Flags.HasFlag(IgvmPageDataFlags.Unmeasured))
            {
                unmeasured++;
            }
            else
            {
                measured++;
            }
        }

        return new IgvmPageSummary(platform, count, bytes, measured, unmeasured, shared, zero);
    }
}
