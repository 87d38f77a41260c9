using System.Security.Cryptography;
using CocoLaunch.Formats.Ovmf;
using CocoLaunch.Formats.Sev;
using CocoLaunch.Formats.Tdvf;

namespace CocoLaunch.Cli.Reports;

/// <summary>The human-readable `inspect` report.</summary>
internal static class FirmwareTextReport
{
    public static void Write(OvmfFirmware fw, TextWriter o)
    {
        var image = fw.Image;
        o.WriteLine($"firmware: {image.Name}");
        o.WriteLine($"size:     0x{image.Size:x} ({image.Size} bytes){(image.VarsSize > 0 ? $", of which vars 0x{image.VarsSize:x}" : string.Empty)}");
        o.WriteLine($"sha256:   {Convert.ToHexStringLower(SHA256.HashData(image.Bytes.Span))}");
        o.WriteLine($"loaded at GPA {image.LoadAddress} (ending at 4 GiB)");
        WriteGuidTable(fw, o);
        WriteTdx(fw, o);
        WriteSev(fw, o);
        var notes = fw.Notes.ToList();
        if (notes.Count > 0)
        {
            o.WriteLine();
            o.WriteLine("notes:");
            foreach (var note in notes)
            {
                o.WriteLine($"  offset 0x{note.Offset:x}: {note.Message}");
            }
        }
    }

    private static void WriteGuidTable(OvmfFirmware fw, TextWriter o)
    {
        o.WriteLine();
        if (fw.GuidTable is not { } table)
        {
            o.WriteLine("OVMF GUID table: none (TDVF metadata found through the legacy pointer at end-0x20)");
            return;
        }

        o.WriteLine($"OVMF GUID table: offset 0x{table.Offset:x}, {table.Length} bytes, {table.Entries.Count} entries");
        var t = new TextTable("offset", "bytes", "guid", "name", "value");
        foreach (var e in table.Entries)
        {
            t.Add($"0x{e.Offset:x}", e.DataLength.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Guid.ToString(), e.Name ?? "unknown", EntryValues.Describe(fw, e));
        }

        t.Write(o);
    }

    private static void WriteTdx(OvmfFirmware fw, TextWriter o)
    {
        o.WriteLine();
        switch (fw.Tdx)
        {
            case { Error: { } error }:
                o.WriteLine($"TDX metadata: unusable: offset 0x{error.Offset:x}: {error.Problem}");
                return;
            case { Value: null }:
                o.WriteLine("TDX metadata: none");
                return;
        }

        var tdvf = fw.Tdx.Value!;
        string via = tdvf.Locator == TdvfLocator.GuidTable ? "the OVMF GUID table" : "the legacy pointer at end-0x20";
        o.WriteLine($"TDX metadata: TDVF descriptor at offset 0x{tdvf.DescriptorOffset:x} (found through {via}), version {tdvf.Version}, {tdvf.Sections.Count} sections");
        var t = new TextTable("#", "type", "data-offset", "raw-size", "gpa", "memory-size", "attributes");
        foreach (var s in tdvf.Sections)
        {
            t.Add(s.Index.ToString(System.Globalization.CultureInfo.InvariantCulture), s.TypeName, $"0x{s.DataOffset:x}", $"0x{s.RawDataSize:x}", s.MemoryAddress.ToString(), $"0x{s.MemoryDataSize:x}", $"0x{(uint)s.Attributes:x} {TdvfNames.Of(s.Attributes)}");
        }

        t.Write(o);
    }

    private static void WriteSev(OvmfFirmware fw, TextWriter o)
    {
        o.WriteLine();
        switch (fw.Sev)
        {
            case { Error: { } error }:
                o.WriteLine($"SEV metadata: unusable: offset 0x{error.Offset:x}: {error.Problem}");
                return;
            case { Value: null }:
                o.WriteLine("SEV metadata: none");
                return;
        }

        var sev = fw.Sev.Value!;
        if (sev.Metadata is { } m)
        {
            o.WriteLine($"SEV metadata: offset 0x{m.Offset:x}, {m.Sections.Count} sections");
            var t = new TextTable("#", "gpa", "size", "type");
            foreach (var s in m.Sections)
            {
                t.Add(s.Index.ToString(System.Globalization.CultureInfo.InvariantCulture), s.Gpa.ToString(), $"0x{s.Size:x}", s.TypeName);
            }

            t.Write(o);
        }
        else
        {
            o.WriteLine("SEV metadata: none");
        }

        o.WriteLine($"AP reset EIP: {(sev.ApResetEip is { } eip ? $"0x{eip:x}" : "none (no SEV-ES reset block)")}");
        o.WriteLine($"SEV hash table: {Range(sev.HashTable)}{HashTablePlace(sev)}");
        o.WriteLine($"SEV launch secret: {Range(sev.LaunchSecret)}");
    }

    private static string Range(GuestRange? r) => r switch
    {
        null => "none (no entry)",
        { IsEmpty: true } => "none (base 0x0, size 0x0)",
        _ => $"base 0x{r.Base:x}, size 0x{r.Size:x}",
    };

    private static string HashTablePlace(SevFirmwareInfo sev) => sev.HashTableSection is { } s
        ? $", in {s.Label} at page offset 0x{sev.HashTable!.Base & 0xFFF:x}"
        : string.Empty;
}
