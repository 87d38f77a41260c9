using System.Buffers.Binary;

namespace CocoLaunch.Formats.Ovmf;

/// <summary>One entry of the OVMF GUIDed table: <c>data ‖ u16 length ‖ GUID</c>.</summary>
/// <param name="Offset">File offset of the entry's first data byte.</param>
/// <param name="DataLength">Bytes of data (the entry's length field minus the 18-byte header).</param>
public sealed record OvmfGuidTableEntry(Guid Guid, long Offset, int DataLength)
{
    public string? Name => OvmfGuids.NameOf(Guid);

    /// <summary>File offset of the 18-byte header that follows the data.</summary>
    public long HeaderOffset => Offset + DataLength;
}

/// <summary>The OVMF GUIDed table that sits just before the 32-byte reset-vector area.</summary>
/// <remarks>
/// Entries are stored back to front: a parser starts at the footer and walks towards lower
/// offsets, each entry's length telling where the next header ends.
/// </remarks>
public sealed class OvmfGuidTable
{
    /// <summary>Bytes at the very end of the image that hold the reset vector, not the table.</summary>
    public const int ResetVectorAreaSize = 0x20;

    /// <summary>Size of an entry header: u16 length then a 16-byte GUID.</summary>
    public const int EntryHeaderSize = 18;

    private OvmfGuidTable(long offset, int length, IReadOnlyList<OvmfGuidTableEntry> entries, IReadOnlyList<FirmwareNote> notes)
    {
        Offset = offset;
        Length = length;
        Entries = entries;
        Notes = notes;
    }

    /// <summary>File offset of the table's first byte.</summary>
    public long Offset { get; }

    /// <summary>Total table length including the footer entry, as stored in the footer.</summary>
    public int Length { get; }

    /// <summary>The entries in file order (lowest offset first), footer excluded.</summary>
    public IReadOnlyList<OvmfGuidTableEntry> Entries { get; }

    public IReadOnlyList<FirmwareNote> Notes { get; }

    public OvmfGuidTableEntry? Find(Guid guid) => Entries.FirstOrDefault(e => e.Guid == guid);

    /// <summary>File offset of the footer entry's u16 length.</summary>
    public static long FooterOffset(long imageSize) => imageSize - ResetVectorAreaSize - EntryHeaderSize;

    /// <summary>Whether the footer GUID is present. Absence is expected for non-OVMF images (td-shim).</summary>
    public static bool HasFooter(ReadOnlySpan<byte> image) =>
        image.Length >= ResetVectorAreaSize + EntryHeaderSize
        && new Guid(image.Slice((int)FooterOffset(image.Length) + 2, 16)) == OvmfGuids.TableFooter;

    /// <summary>Parses the table; the caller has checked <see cref="HasFooter"/>.</summary>
    /// <exception cref="FirmwareFormatException">The table's lengths do not fit the image.</exception>
    public static OvmfGuidTable Parse(ReadOnlySpan<byte> image)
    {
        long footer = FooterOffset(image.Length);
        int length = BinaryPrimitives.ReadUInt16LittleEndian(image[(int)footer..]);
        long tableEnd = image.Length - ResetVectorAreaSize;
        if (length < EntryHeaderSize)
        {
            throw new FirmwareFormatException(footer, $"OVMF GUID table length {length} is smaller than its own {EntryHeaderSize}-byte footer entry");
        }

        long tableStart = tableEnd - length;
        if (tableStart < 0)
        {
            throw new FirmwareFormatException(footer, $"OVMF GUID table length {Hex.Of((ulong)length)} reaches past the start of the file (the table would start at offset {Hex.Of(tableStart)})");
        }

        var entries = new List<OvmfGuidTableEntry>();
        var notes = new List<FirmwareNote>();
        long end = footer;
        while (end - tableStart >= EntryHeaderSize)
        {
            long header = end - EntryHeaderSize;
            int entryLength = BinaryPrimitives.ReadUInt16LittleEndian(image[(int)header..]);
            var guid = new Guid(image.Slice((int)header + 2, 16));
            if (entryLength < EntryHeaderSize)
            {
                throw new FirmwareFormatException(header, $"OVMF GUID table entry {guid} has length {entryLength}, smaller than its {EntryHeaderSize}-byte header");
            }

            long start = end - entryLength;
            if (start < tableStart)
            {
                throw new FirmwareFormatException(header, $"OVMF GUID table entry {guid} has length {entryLength}, reaching past the start of the table at offset {Hex.Of(tableStart)}");
            }

            var entry = new OvmfGuidTableEntry(guid, start, entryLength - EntryHeaderSize);
            var twin = entries.Find(e => e.Guid == guid);
            if (twin is not null)
            {
                throw new FirmwareFormatException(header, $"OVMF GUID table has two entries with GUID {guid} (the other at offset {Hex.Of(twin.Offset)})");
            }

            if (entry.Name is null)
            {
                notes.Add(new FirmwareNote(start, $"unknown OVMF GUID table entry {guid} with {entry.DataLength} data bytes (ignored)"));
            }

            entries.Add(entry);
            end = start;
        }

        if (end != tableStart)
        {
            notes.Add(new FirmwareNote(tableStart, $"{end - tableStart} bytes at the start of the OVMF GUID table belong to no entry (ignored)"));
        }

        entries.Reverse();
        return new OvmfGuidTable(tableStart, length, entries, notes);
    }
}
