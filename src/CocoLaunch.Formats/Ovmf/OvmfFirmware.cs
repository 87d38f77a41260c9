using System.Buffers.Binary;
using CocoLaunch.Formats.Sev;
using CocoLaunch.Formats.Tdvf;

namespace CocoLaunch.Formats.Ovmf;

/// <summary>The outcome of parsing one optional metadata block: absent, parsed, or present but broken.</summary>
public sealed record Parsed<T>(T? Value, FirmwareFormatException? Error)
    where T : class
{
    public static Parsed<T> Absent { get; } = new(null, null);

    public bool IsPresent => Value is not null || Error is not null;
}

/// <summary>Everything CocoLaunch reads from an OVMF-style image before a launch.</summary>
/// <remarks>
/// The GUID table is required; the TDX and SEV parts are parsed independently, so that an image whose
/// TDX metadata is unusable on its own (OVMF_CODE.fd) can still be inspected and launched as SNP.
/// </remarks>
public sealed class OvmfFirmware
{
    private OvmfFirmware(FirmwareImage image, OvmfGuidTable? table, Parsed<TdvfMetadata> tdx, Parsed<SevFirmwareInfo> sev)
    {
        Image = image;
        GuidTable = table;
        Tdx = tdx;
        Sev = sev;
    }

    public FirmwareImage Image { get; }

    /// <summary>Null only for a td-shim style image found through the legacy TDVF pointer.</summary>
    public OvmfGuidTable? GuidTable { get; }

    public Parsed<TdvfMetadata> Tdx { get; }

    public Parsed<SevFirmwareInfo> Sev { get; }

    public IEnumerable<FirmwareNote> Notes =>
        (GuidTable?.Notes ?? []).Concat(Tdx.Value?.Notes ?? []).Concat(Sev.Value?.Metadata?.Notes ?? []);

    /// <summary>The first error of a present but broken block, for callers that need every block intact.</summary>
    public FirmwareFormatException? FirstError => Tdx.Error ?? Sev.Error;

    /// <exception cref="FirmwareFormatException">The image has no usable GUID table or TDVF pointer.</exception>
    public static OvmfFirmware Parse(FirmwareImage image)
    {
        var bytes = image.Bytes.Span;
        long footer = OvmfGuidTable.FooterOffset(bytes.Length);
        if (bytes.Length < OvmfGuidTable.ResetVectorAreaSize + OvmfGuidTable.EntryHeaderSize)
        {
            throw new FirmwareFormatException(0, $"file is too small ({bytes.Length} bytes) to hold an OVMF GUID table footer and the 32-byte reset-vector area");
        }

        if (!OvmfGuidTable.HasFooter(bytes))
        {
            var legacy = TdvfMetadata.TryParseLegacy(bytes);
            if (legacy is not null)
            {
                return new OvmfFirmware(image, null, new Parsed<TdvfMetadata>(legacy, null), Parsed<SevFirmwareInfo>.Absent);
            }

            var found = new Guid(bytes.Slice((int)footer + 2, 16));
            throw new FirmwareFormatException(footer + 2, $"no OVMF GUID table: expected the footer GUID {OvmfGuids.TableFooter} here, found {found} (not an OVMF image, or truncated)");
        }

        var table = OvmfGuidTable.Parse(bytes);
        return new OvmfFirmware(image, table, ParseTdx(bytes, table), ParseSev(bytes, table));
    }

    private static Parsed<TdvfMetadata> ParseTdx(ReadOnlySpan<byte> bytes, OvmfGuidTable table)
    {
        var entry = table.Find(OvmfGuids.TdxMetadataOffset);
        if (entry is null)
        {
            return Parsed<TdvfMetadata>.Absent;
        }

        try
        {
            return new(TdvfMetadata.ParseFromEnd(bytes, ReadU32(bytes, entry, 0), entry.Offset), null);
        }
        catch (FirmwareFormatException e)
        {
            return new(null, e);
        }
    }

    private static Parsed<SevFirmwareInfo> ParseSev(ReadOnlySpan<byte> bytes, OvmfGuidTable table)
    {
        var metadataEntry = table.Find(OvmfGuids.SevMetadataOffset);
        var resetEntry = table.Find(OvmfGuids.SevEsResetBlock);
        var hashEntry = table.Find(OvmfGuids.SevHashTable);
        var secretEntry = table.Find(OvmfGuids.SevLaunchSecret);
        if (metadataEntry is null && resetEntry is null && hashEntry is null && secretEntry is null)
        {
            return Parsed<SevFirmwareInfo>.Absent;
        }

        try
        {
            var metadata = metadataEntry is null ? null : SevMetadata.Parse(bytes, ReadU32(bytes, metadataEntry, 0), metadataEntry.Offset);
            uint? apResetEip = resetEntry is null ? null : ReadU32(bytes, resetEntry, 0);
            var hashTable = hashEntry is null ? null : new GuestRange(ReadU32(bytes, hashEntry, 0), ReadU32(bytes, hashEntry, 4));
            var secret = secretEntry is null ? null : new GuestRange(ReadU32(bytes, secretEntry, 0), ReadU32(bytes, secretEntry, 4));
            return new(new SevFirmwareInfo(metadata, apResetEip, hashTable, secret), null);
        }
        catch (FirmwareFormatException e)
        {
            return new(null, e);
        }
    }

    private static uint ReadU32(ReadOnlySpan<byte> bytes, OvmfGuidTableEntry entry, int at)
    {
        if (entry.DataLength < at + 4)
        {
            throw new FirmwareFormatException(entry.Offset, $"OVMF GUID table entry '{entry.Name}' has {entry.DataLength} data bytes, too few for its fields (needs {at + 4})");
        }

        return BinaryPrimitives.ReadUInt32LittleEndian(bytes[(int)(entry.Offset + at)..]);
    }
}
