using System.Buffers.Binary;
using CocoLaunch.Abi;

namespace CocoLaunch.Formats.Sev;

/// <summary>OVMF SEV metadata section types (edk2 <c>OvmfSevMetadata.asm</c>).</summary>
public enum SevSectionType : uint
{
    SnpSecMem = 1,
    SnpSecrets = 2,
    Cpuid = 3,
    SvsmCaa = 4,
    SnpKernelHashes = 0x10,
}

/// <summary>One 12-byte SEV metadata descriptor.</summary>
/// <param name="Index">Position in the table, which is the SNP measurement order.</param>
public sealed record SevMetadataSection(int Index, long EntryOffset, Gpa Gpa, uint Size, SevSectionType Type)
{
    public bool IsKnownType => Enum.IsDefined(Type);

    public string TypeName => Type switch
    {
        SevSectionType.SnpSecMem => "SNP_SEC_MEM",
        SevSectionType.SnpSecrets => "SNP_SECRETS",
        SevSectionType.Cpuid => "CPUID",
        SevSectionType.SvsmCaa => "SVSM_CAA",
        SevSectionType.SnpKernelHashes => "SNP_KERNEL_HASHES",
        _ => $"unknown({Hex.Of((ulong)Type)})",
    };

    public string Label => $"SEV section #{Index} ({TypeName})";

    public ulong End => Gpa.Value + Size;

    public bool Contains(ulong gpa) => gpa >= Gpa.Value && gpa < End;
}

/// <summary>The <c>ASEV</c> block: a 16-byte header and 12-byte section descriptors.</summary>
public sealed class SevMetadata
{
    private static class HeaderField
    {
        public const int Signature = 0;
        public const int Size = Signature + 4;
        public const int Version = Size + 4;
        public const int NumItems = Version + 4;
        public const int Length = NumItems + 4;
    }

    private static class DescriptorField
    {
        public const int Gpa = 0;
        public const int Size = Gpa + 4;
        public const int Type = Size + 4;
        public const int Length = Type + 4;
    }

    private const uint Signature = 0x56455341; // "ASEV"

    private SevMetadata(long offset, IReadOnlyList<SevMetadataSection> sections, IReadOnlyList<FirmwareNote> notes)
    {
        Offset = offset;
        Sections = sections;
        Notes = notes;
    }

    public long Offset { get; }

    /// <summary>Sections in table order; SNP measures them in exactly this order, never sorted.</summary>
    public IReadOnlyList<SevMetadataSection> Sections { get; }

    public IReadOnlyList<FirmwareNote> Notes { get; }

    public static SevMetadata Parse(ReadOnlySpan<byte> image, uint offsetFromEnd, long entryOffset)
    {
        long at = image.Length - (long)offsetFromEnd;
        if (offsetFromEnd > image.Length)
        {
            throw new FirmwareFormatException(entryOffset, $"SEV metadata offset {Hex.Of(offsetFromEnd)} (counted from the end of the file) points before the start of the file (size {Hex.Of((ulong)image.Length)})");
        }

        if (at + HeaderField.Length > image.Length)
        {
            throw new FirmwareFormatException(at, $"SEV metadata header at {Hex.Of(at)} runs past the end of the file (size {Hex.Of((ulong)image.Length)})");
        }

        var h = image.Slice((int)at, HeaderField.Length);
        uint signature = BinaryPrimitives.ReadUInt32LittleEndian(h[HeaderField.Signature..]);
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(h[HeaderField.Size..]);
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(h[HeaderField.Version..]);
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(h[HeaderField.NumItems..]);
        if (signature != Signature)
        {
            throw new FirmwareFormatException(at, $"SEV metadata signature is {Hex.Of(signature)}, expected 'ASEV' ({Hex.Of(Signature)})");
        }

        if (version != 1)
        {
            throw new FirmwareFormatException(at + HeaderField.Version, $"SEV metadata version {version} is not supported (expected 1)");
        }

        long end = at + HeaderField.Length + (long)count * DescriptorField.Length;
        if (end > image.Length)
        {
            throw new FirmwareFormatException(at + HeaderField.NumItems, $"SEV metadata section count {count} is too large: {count} descriptors would end at {Hex.Of(end)}, past the end of the file (size {Hex.Of((ulong)image.Length)})");
        }

        if (size != HeaderField.Length + count * DescriptorField.Length)
        {
            throw new FirmwareFormatException(at + HeaderField.Size, $"SEV metadata size {size} does not match its {count} sections (expected 16 + 12*{count} = {HeaderField.Length + count * DescriptorField.Length})");
        }

        var notes = new List<FirmwareNote>();
        var sections = new List<SevMetadataSection>((int)count);
        for (int i = 0; i < count; i++)
        {
            long e = at + HeaderField.Length + (long)i * DescriptorField.Length;
            var d = image.Slice((int)e, DescriptorField.Length);
            var s = new SevMetadataSection(
                i,
                e,
                new Gpa(BinaryPrimitives.ReadUInt32LittleEndian(d[DescriptorField.Gpa..])),
                BinaryPrimitives.ReadUInt32LittleEndian(d[DescriptorField.Size..]),
                (SevSectionType)BinaryPrimitives.ReadUInt32LittleEndian(d[DescriptorField.Type..]));
            Check(s, notes);
            sections.Add(s);
        }

        CheckNoOverlap(sections);
        return new SevMetadata(at, sections, notes);
    }

    private static void Check(SevMetadataSection s, List<FirmwareNote> notes)
    {
        if (!s.IsKnownType)
        {
            notes.Add(new FirmwareNote(s.EntryOffset, $"{s.Label} has an unknown type; an SNP launch of this image will reject it"));
        }

        if (!s.Gpa.IsPageAligned || !PageSize.IsAligned4K(s.Size))
        {
            throw new FirmwareFormatException(s.EntryOffset, $"{s.Label} is not 4 KiB aligned (GPA {s.Gpa}, size {Hex.Of(s.Size)})");
        }

        if (s.Size == 0)
        {
            throw new FirmwareFormatException(s.EntryOffset, $"{s.Label} has a size of 0");
        }

        if (s.End > Gpa.FourGiB.Value)
        {
            throw new FirmwareFormatException(s.EntryOffset, $"{s.Label} range {Hex.Range(s.Gpa.Value, s.End)} crosses 4 GiB");
        }
    }

    private static void CheckNoOverlap(List<SevMetadataSection> sections)
    {
        if (RangeOverlap.Find(sections, s => s.Gpa.Value, s => s.End, s => s.Index) is var (first, second))
        {
            throw new FirmwareFormatException(second.EntryOffset, $"{second.Label} range {Hex.Range(second.Gpa.Value, second.End)} overlaps {first.Label} at {Hex.Range(first.Gpa.Value, first.End)}");
        }
    }
}
