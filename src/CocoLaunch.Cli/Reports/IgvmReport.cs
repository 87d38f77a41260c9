using System.Security.Cryptography;
using System.Text.Json;
using CocoLaunch.Formats.Igvm;

namespace CocoLaunch.Cli.Reports;

/// <summary>`inspect FILE.igvm`: the fixed header, the platforms, every variable header with its fields, and the pages per platform.</summary>
internal static class IgvmReport
{
    public static void WriteText(string path, byte[] bytes, IgvmFile igvm, TextWriter o)
    {
        var h = igvm.FixedHeader;
        o.WriteLine($"igvm:     {path}");
        o.WriteLine($"size:     0x{bytes.Length:x} ({bytes.Length} bytes)");
        o.WriteLine($"sha256:   {Convert.ToHexStringLower(SHA256.HashData(bytes))}");
        o.WriteLine($"format:   version {h.Version}, {h.ArchitectureName}{(h.PageSize is { } page ? $", page size 0x{page:x}" : string.Empty)}");
        o.WriteLine($"variable headers: 0x{h.VariableHeaderSize:x} bytes at 0x{h.VariableHeaderOffset:x}; file data from 0x{h.FileDataStart:x}; checksum 0x{h.Checksum:x8}");
        o.WriteLine();
        o.WriteLine("platforms:");
        foreach (var p in igvm.Platforms)
        {
            o.WriteLine($"  mask 0x{p.Mask:x}  {p.PlatformName,-8} highest VTL {p.HighestVtl}, version {p.PlatformVersion}, shared GPA boundary {p.SharedGpaBoundary}");
        }

        o.WriteLine();
        o.WriteLine($"headers ({igvm.Headers.Count}):");
        foreach (var header in igvm.Headers)
        {
            string mask = header.CompatibilityMask is { } m ? $"  [{igvm.PlatformNames(m)}]" : string.Empty;
            string fields = string.Join(' ', header.Fields().Select(f => $"{f.Name}={f.Value}"));
            o.WriteLine($"  #{header.Index,-4} 0x{header.Offset:x6}  {header.TypeName}{(header.MayIgnore ? " (may ignore)" : string.Empty)}{mask}  {fields}");
        }

        o.WriteLine();
        o.WriteLine("pages per platform:");
        foreach (var s in igvm.PageSummary())
        {
            o.WriteLine($"  {s.Platform.PlatformName,-8} {s.Pages} pages (0x{s.Bytes:x} bytes): {s.Measured} measured, {s.Unmeasured} unmeasured, {s.Shared} shared; {s.Zero} zero pages");
        }

        int ignored = igvm.Headers.Count(x => x is IgvmIgnoredHeader);
        if (ignored > 0)
        {
            o.WriteLine($"  {ignored} header(s) of unknown types carry the may-ignore bit and were kept unread");
        }
    }

    public static void WriteJson(string path, byte[] bytes, IgvmFile igvm, TextWriter output)
    {
        var h = igvm.FixedHeader;
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("igvm", path);
            w.WriteString("size", Hex((ulong)bytes.Length));
            w.WriteString("sha256", Convert.ToHexStringLower(SHA256.HashData(bytes)));
            w.WriteStartObject("fixedHeader");
            w.WriteNumber("version", h.Version);
            w.WriteString("architecture", h.ArchitectureName);
            w.WriteString("pageSize", h.PageSize is { } page ? Hex(page) : null);
            w.WriteString("variableHeaderOffset", Hex(h.VariableHeaderOffset));
            w.WriteString("variableHeaderSize", Hex(h.VariableHeaderSize));
            w.WriteString("totalFileSize", Hex(h.TotalFileSize));
            w.WriteString("checksum", Hex(h.Checksum));
            w.WriteEndObject();
            w.WriteStartArray("platforms");
            foreach (var p in igvm.Platforms)
            {
                w.WriteStartObject();
                w.WriteNumber("index", p.Index);
                w.WriteString("mask", Hex(p.Mask));
                w.WriteString("platform", p.PlatformName);
                w.WriteNumber("highestVtl", p.HighestVtl);
                w.WriteNumber("platformVersion", p.PlatformVersion);
                w.WriteString("sharedGpaBoundary", p.SharedGpaBoundary.ToString());
                w.WriteEndObject();
            }

            w.WriteEndArray();
            WriteHeaders(igvm, w);
            w.WriteStartArray("summary");
            foreach (var s in igvm.PageSummary())
            {
                w.WriteStartObject();
                w.WriteString("platform", s.Platform.PlatformName);
                w.WriteNumber("pages", s.Pages);
                w.WriteString("bytes", Hex(s.Bytes));
                w.WriteNumber("measured", s.Measured);
                w.WriteNumber("unmeasured", s.Unmeasured);
                w.WriteNumber("shared", s.Shared);
                w.WriteNumber("zero", s.Zero);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteNumber("ignoredHeaders", igvm.Headers.Count(x => x is IgvmIgnoredHeader));
            w.WriteEndObject();
        }

        output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    private static void WriteHeaders(IgvmFile igvm, Utf8JsonWriter w)
    {
        w.WriteStartArray("headers");
        foreach (var header in igvm.Headers)
        {
            w.WriteStartObject();
            w.WriteNumber("index", header.Index);
            w.WriteString("offset", Hex((ulong)header.Offset));
            w.WriteString("type", header.TypeName);
            w.WriteString("typeValue", Hex(header.RawType));
            w.WriteBoolean("mayIgnore", header.MayIgnore);
            if (header.CompatibilityMask is { } mask)
            {
                w.WriteString("compatibilityMask", Hex(mask));
                w.WriteStartArray("platforms");
                foreach (var p in igvm.Platforms.Where(p => (p.Mask & mask) != 0))
                {
                    w.WriteStringValue(p.PlatformName);
                }

                w.WriteEndArray();
            }

            w.WriteStartObject("fields");
            foreach (var f in header.Fields())
            {
                w.WriteString(f.Name, f.Value);
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    private static string Hex(ulong value) => $"0x{value:x}";
}
