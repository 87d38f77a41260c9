using System.Globalization;
using System.Text.Json;

namespace CocoLaunch.Attestation.Tdx.Collateral;

/// <summary>
/// A value in a collateral JSON document with its path ("tcbInfo.tcbLevels[2].tcb.pcesvn"): reading a field of the
/// wrong type, or a missing one, is an <see cref="EvidenceFormatException"/> naming the file and that path.
/// </summary>
internal readonly record struct JsonField(JsonElement Element, string Path, string File)
{
    public JsonField Get(string name) => TryGet(name) ?? throw Fail($"{Path}.{name} is missing");

    public JsonField? TryGet(string name) =>
        Element.ValueKind != JsonValueKind.Object ? throw Fail($"{Path} is {Element.ValueKind}, not an object")
        : Element.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? new JsonField(v, $"{Path}.{name}", File) : null;

    public string String(string name) => Get(name).Text();

    /// <summary>This value as a string.</summary>
    public string Text()
    {
        if (Element.ValueKind != JsonValueKind.String)
        {
            throw Fail($"{Path} is {Element.ValueKind}, not a string");
        }

        try
        {
            return Element.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw Fail($"{Path} is not UTF-8 text"); // JsonDocument checks UTF-8 only when a string is read
        }
    }

    public int Int(string name, int max)
    {
        var f = Get(name);
        return f.Element.ValueKind == JsonValueKind.Number && f.Element.TryGetInt32(out int v) && v >= 0 && v <= max
            ? v : throw f.Fail($"{f.Path} is {f.Element.GetRawText()}, not a whole number from 0 to {max}");
    }

    public byte[] Hex(string name, int length)
    {
        string text = String(name);
        return text.Length == 2 * length && text.All(char.IsAsciiHexDigit)
            ? Convert.FromHexString(text) : throw Fail($"{Path}.{name} is '{text}', not {length} bytes in hex");
    }

    public DateTimeOffset Date(string name)
    {
        string text = String(name);
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t)
            ? t : throw Fail($"{Path}.{name} is '{text}', not an ISO 8601 date and time");
    }

    public IEnumerable<JsonField> Items(string name)
    {
        var f = Get(name);
        if (f.Element.ValueKind != JsonValueKind.Array)
        {
            throw f.Fail($"{f.Path} is {f.Element.ValueKind}, not an array");
        }

        return f.Element.EnumerateArray().Select((e, i) => new JsonField(e, $"{f.Path}[{i}]", f.File)).ToList();
    }

    public EvidenceFormatException Fail(string what) => new($"{File}: {what}");

    /// <summary>Parses <paramref name="json"/> whose root is the value at <paramref name="path"/>.</summary>
    public static JsonField Root(ReadOnlyMemory<byte> json, string path, string file)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            return new JsonField(doc.RootElement.Clone(), path, file);
        }
        catch (JsonException e)
        {
            throw new EvidenceFormatException($"{file}: {path} is not JSON: {e.Message}");
        }
    }
}
