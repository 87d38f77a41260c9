using System.Security.Cryptography;
using System.Text.Json;
using CocoLaunch.Formats;
using CocoLaunch.Formats.Ovmf;
using CocoLaunch.Formats.Sev;
using CocoLaunch.Formats.Tdvf;

namespace CocoLaunch.Cli.Reports;

/// <summary>The machine-readable `inspect --format json` report. Addresses, offsets and sizes are "0x…" strings.</summary>
internal static class FirmwareJsonReport
{
    public static void Write(OvmfFirmware fw, TextWriter output)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("firmware", fw.Image.Name);
            w.WriteString("size", Hex(fw.Image.Size));
            w.WriteString("varsSize", Hex(fw.Image.VarsSize));
            w.WriteString("sha256", Convert.ToHexStringLower(SHA256.HashData(fw.Image.Bytes.Span)));
            w.WriteString("loadAddress", fw.Image.LoadAddress.ToString());
            WriteGuidTable(fw, w);
            WriteTdx(fw.Tdx, w);
            WriteSev(fw.Sev, w);
            w.WriteStartArray("notes");
            foreach (var note in fw.Notes)
            {
                w.WriteStartObject();
                w.WriteString("offset", Hex(note.Offset));
                w.WriteString("message", note.Message);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    private static void WriteGuidTable(OvmfFirmware fw, Utf8JsonWriter w)
    {
        if (fw.GuidTable is not { } table)
        {
            w.WriteNull("guidTable");
            return;
        }

        w.WriteStartObject("guidTable");
        w.WriteString("offset", Hex(table.Offset));
        w.WriteNumber("length", table.Length);
        w.WriteStartArray("entries");
        foreach (var e in table.Entries)
        {
            w.WriteStartObject();
            w.WriteString("guid", e.Guid.ToString());
            if (e.Name is { } name)
            {
                w.WriteString("name", name);
            }
            else
            {
                w.WriteNull("name");
            }

            w.WriteString("offset", Hex(e.Offset));
            w.WriteNumber("dataLength", e.DataLength);
            w.WriteString("data", Convert.ToHexStringLower(fw.Image.Bytes.Span.Slice((int)e.Offset, e.DataLength)));
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteTdx(Parsed<TdvfMetadata> tdx, Utf8JsonWriter w)
    {
        if (!WriteStatus("tdx", tdx.IsPresent, tdx.Error, w))
        {
            return;
        }

        var m = tdx.Value!;
        w.WriteString("descriptorOffset", Hex(m.DescriptorOffset));
        w.WriteString("locator", m.Locator == TdvfLocator.GuidTable ? "guid-table" : "legacy-pointer");
        w.WriteNumber("version", m.Version);
        w.WriteStartArray("sections");
        foreach (var s in m.Sections)
        {
            w.WriteStartObject();
            w.WriteNumber("index", s.Index);
            w.WriteNumber("type", (uint)s.Type);
            w.WriteString("typeName", s.TypeName);
            w.WriteString("dataOffset", Hex(s.DataOffset));
            w.WriteString("rawDataSize", Hex(s.RawDataSize));
            w.WriteString("gpa", s.MemoryAddress.ToString());
            w.WriteString("memoryDataSize", Hex((long)s.MemoryDataSize));
            w.WriteString("attributes", Hex((uint)s.Attributes));
            w.WriteString("attributeNames", TdvfNames.Of(s.Attributes));
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteSev(Parsed<SevFirmwareInfo> sev, Utf8JsonWriter w)
    {
        if (!WriteStatus("sev", sev.IsPresent, sev.Error, w))
        {
            return;
        }

        var info = sev.Value!;
        if (info.Metadata is { } m)
        {
            w.WriteString("metadataOffset", Hex(m.Offset));
            w.WriteStartArray("sections");
            foreach (var s in m.Sections)
            {
                w.WriteStartObject();
                w.WriteNumber("index", s.Index);
                w.WriteString("gpa", s.Gpa.ToString());
                w.WriteString("size", Hex(s.Size));
                w.WriteNumber("type", (uint)s.Type);
                w.WriteString("typeName", s.TypeName);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }
        else
        {
            w.WriteNull("metadataOffset");
            w.WriteNull("sections");
        }

        if (info.ApResetEip is { } eip)
        {
            w.WriteString("apResetEip", Hex(eip));
        }
        else
        {
            w.WriteNull("apResetEip");
        }

        WriteRange("hashTable", info.HashTable, w);
        if (info.HashTableSection is { } hs)
        {
            w.WriteNumber("hashTableSection", hs.Index);
        }

        WriteRange("launchSecret", info.LaunchSecret, w);
        w.WriteEndObject();
    }

    /// <summary>Writes null for an absent block, {"error": …} for a broken one; otherwise opens the object and returns true.</summary>
    private static bool WriteStatus(string name, bool present, FirmwareFormatException? error, Utf8JsonWriter w)
    {
        if (!present)
        {
            w.WriteNull(name);
            return false;
        }

        w.WriteStartObject(name);
        if (error is null)
        {
            return true;
        }

        w.WriteStartObject("error");
        w.WriteString("offset", Hex(error.Offset));
        w.WriteString("message", error.Problem);
        w.WriteEndObject();
        w.WriteEndObject();
        return false;
    }

    private static void WriteRange(string name, GuestRange? range, Utf8JsonWriter w)
    {
        if (range is null)
        {
            w.WriteNull(name);
            return;
        }

        w.WriteStartObject(name);
        w.WriteString("base", Hex(range.Base));
        w.WriteString("size", Hex(range.Size));
        w.WriteEndObject();
    }

    private static string Hex(long value) => $"0x{value:x}";
}
