using System.Buffers.Binary;
using CocoLaunch.Abi;
using CocoLaunch.Formats.Ovmf;

namespace CocoLaunch.Formats.Tdvf;

/// <summary>How the TDVF descriptor was found.</summary>
public enum TdvfLocator
{
    /// <summary>The OVMF GUID table entry e47a6535-…: a u32 offset from the end of the image.</summary>
    GuidTable,

    /// <summary>td-shim's legacy pointer: the u32 at end−0x20 is the descriptor's file offset.</summary>
    LegacyPointer,
}

/// <summary>The TDVF metadata: a <c>TDVF</c> descriptor followed by its 32-byte section entries.</summary>
public sealed class TdvfMetadata
{
    private static class DescriptorField
    {
        public const int Signature = 0;
        public const int Length = Signature + 4;
        public const int Version = Length + 4;
        public const int NumberOfSectionEntries = Version + 4;
        public const int Size = NumberOfSectionEntries + 4;
    }

    private static class SectionField
    {
        public const int DataOffset = 0;
        public const int RawDataSize = DataOffset + 4;
        public const int MemoryAddress = RawDataSize + 4;
        public const int MemoryDataSize = MemoryAddress + 8;
        public const int Type = MemoryDataSize + 8;
        public const int Attributes = Type + 4;
        public const int Size = Attributes + 4;
    }

    private const uint Signature = 0x46564454; // "TDVF"
    private const int GuidSize = 16;

    private TdvfMetadata(long descriptorOffset, TdvfLocator locator, uint version, IReadOnlyList<TdvfSection> sections, IReadOnlyList<FirmwareNote> notes)
    {
        DescriptorOffset = descriptorOffset;
        Locator = locator;
        Version = version;
        Sections = sections;
        Notes = notes;
    }

    public long DescriptorOffset { get; }

    public TdvfLocator Locator { get; }

    public uint Version { get; }

    /// <summary>Sections in metadata order, which is the order a VMM adds and measures them.</summary>
    public IReadOnlyList<TdvfSection> Sections { get; }

    public IReadOnlyList<FirmwareNote> Notes { get; }

    /// <summary>Locates the descriptor from the GUID table entry's u32 offset-from-end.</summary>
    public static TdvfMetadata ParseFromEnd(ReadOnlySpan<byte> image, uint offsetFromEnd, long entryOffset)
    {
        long descriptor = image.Length - (long)offsetFromEnd;
        if (offsetFromEnd > image.Length || descriptor < GuidSize)
        {
            throw new FirmwareFormatException(entryOffset, $"TDX metadata offset {Hex.Of(offsetFromEnd)} (counted from the end of the file) points before the start of the file (size {Hex.Of((ulong)image.Length)})");
        }

        return Parse(image, descriptor, TdvfLocator.GuidTable);
    }

    /// <summary>td-shim's legacy method; returns null when the pointer does not lead to a TDVF descriptor.</summary>
    public static TdvfMetadata? TryParseLegacy(ReadOnlySpan<byte> image)
    {
        if (image.Length < OvmfGuidTable.ResetVectorAreaSize)
        {
            return null;
        }

        uint pointer = BinaryPrimitives.ReadUInt32LittleEndian(image[^OvmfGuidTable.ResetVectorAreaSize..]);
        if (pointer < GuidSize || (long)pointer + DescriptorField.Size > image.Length
            || BinaryPrimitives.ReadUInt32LittleEndian(image[(int)pointer..]) != Signature
            || new Guid(image.Slice((int)pointer - GuidSize, GuidSize)) != OvmfGuids.TdxMetadata)
        {
            return null;
        }

        return Parse(image, pointer, TdvfLocator.LegacyPointer);
    }

    private static TdvfMetadata Parse(ReadOnlySpan<byte> image, long offset, TdvfLocator locator)
    {
        if (offset + DescriptorField.Size > image.Length)
        {
            throw new FirmwareFormatException(offset, $"TDVF descriptor at {Hex.Of(offset)} runs past the end of the file (size {Hex.Of((ulong)image.Length)})");
        }

        var guid = new Guid(image.Slice((int)offset - GuidSize, GuidSize));
        if (guid != OvmfGuids.TdxMetadata)
        {
            throw new FirmwareFormatException(offset - GuidSize, $"expected the TDX metadata GUID {OvmfGuids.TdxMetadata} before the TDVF descriptor, found {guid}");
        }

        var d = image.Slice((int)offset, DescriptorField.Size);
        uint signature = BinaryPrimitives.ReadUInt32LittleEndian(d[DescriptorField.Signature..]);
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(d[DescriptorField.Length..]);
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(d[DescriptorField.Version..]);
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(d[DescriptorField.NumberOfSectionEntries..]);
        if (signature != Signature)
        {
            throw new FirmwareFormatException(offset, $"TDVF descriptor signature is {Hex.Of(signature)}, expected 'TDVF' ({Hex.Of(Signature)})");
        }

        if (version != 1)
        {
            throw new FirmwareFormatException(offset + DescriptorField.Version, $"TDVF descriptor version {version} is not supported (expected 1)");
        }

        if (count == 0)
        {
            throw new FirmwareFormatException(offset + DescriptorField.NumberOfSectionEntries, "TDVF descriptor has no sections");
        }

        long sectionsEnd = offset + DescriptorField.Size + (long)count * SectionField.Size;
        if (sectionsEnd > image.Length)
        {
            throw new FirmwareFormatException(offset + DescriptorField.NumberOfSectionEntries, $"TDVF section count {count} is too large: {count} entries would end at {Hex.Of(sectionsEnd)}, past the end of the file (size {Hex.Of((ulong)image.Length)})");
        }

        if (length != DescriptorField.Size + count * SectionField.Size)
        {
            throw new FirmwareFormatException(offset + DescriptorField.Length, $"TDVF descriptor length {length} does not match its {count} sections (expected 16 + 32*{count} = {DescriptorField.Size + count * SectionField.Size})");
        }

        var notes = new List<FirmwareNote>();
        var sections = new List<TdvfSection>((int)count);
        for (int i = 0; i < count; i++)
        {
            long at = offset + DescriptorField.Size + (long)i * SectionField.Size;
            var s = ReadSection(image.Slice((int)at, SectionField.Size), i, at);
            TdvfRules.Check(s, image.Length, notes);
            sections.Add(s);
        }

        TdvfRules.CheckNoOverlap(sections);
        return new TdvfMetadata(offset, locator, version, sections, notes);
    }

    private static TdvfSection ReadSection(ReadOnlySpan<byte> e, int index, long at) => new(
        index,
        at,
        BinaryPrimitives.ReadUInt32LittleEndian(e[SectionField.DataOffset..]),
        BinaryPrimitives.ReadUInt32LittleEndian(e[SectionField.RawDataSize..]),
        new Gpa(BinaryPrimitives.ReadUInt64LittleEndian(e[SectionField.MemoryAddress..])),
        BinaryPrimitives.ReadUInt64LittleEndian(e[SectionField.MemoryDataSize..]),
        (TdvfSectionType)BinaryPrimitives.ReadUInt32LittleEndian(e[SectionField.Type..]),
        (TdvfSectionAttributes)BinaryPrimitives.ReadUInt32LittleEndian(e[SectionField.Attributes..]));
}
