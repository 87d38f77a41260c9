using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using CocoLaunch.Abi;
using CocoLaunch.Abi.Measurement;

namespace CocoLaunch.Attestation.ReferenceValues;

/// <summary>
/// The JSON form of a <see cref="ReferenceValueDocument"/>. The log is stored as runs of like operations at evenly
/// spaced GPAs, each with its content fingerprints packed in base64, so a large firmware's log stays small.
/// Reading checks every field and names the path of a bad one.
/// </summary>
public static class ReferenceValueJson
{
    public static byte[] Write(ReferenceValueDocument doc)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("format", ReferenceValueDocument.Format);
            w.WriteNumber("version", ReferenceValueDocument.FormatVersion);
            w.WriteStartObject("tool");
            w.WriteString("name", "cocolaunch");
            w.WriteString("version", doc.ToolVersion);
            w.WriteEndObject();
            w.WriteStartArray("references");
            foreach (var r in doc.References)
            {
                WriteReference(w, r);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        stream.WriteByte((byte)'\n');
        return stream.ToArray();
    }

    private static void WriteReference(Utf8JsonWriter w, ReferenceValue r)
    {
        w.WriteStartObject();
        w.WriteString("name", r.Name);
        w.WriteString("platform", r.Platform);
        w.WriteStartObject("digest");
        w.WriteString("hex", r.Digest);
        w.WriteString("base64", Convert.ToBase64String(Convert.FromHexString(r.Digest)));
        w.WriteEndObject();
        WriteMap(w, "profile", r.Profile);
        WriteMap(w, "config", r.Config);
        w.WriteStartArray("inputs");
        foreach (var i in r.Inputs)
        {
            w.WriteStartObject();
            w.WriteString("role", i.Role);
            w.WriteString("path", i.Path);
            w.WriteString("sha256", i.Sha256);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        if (r.Rtmrs is { } rtmrs)
        {
            w.WriteStartArray("rtmrs");
            rtmrs.ToList().ForEach(w.WriteStringValue);
            w.WriteEndArray();
        }

        if (r.RtmrEvents is { } events)
        {
            w.WriteStartArray("rtmrEvents");
            foreach (var e in events)
            {
                w.WriteStartObject();
                w.WriteNumber("mr", e.MrIndex);
                w.WriteString("type", e.Type);
                w.WriteString("sha384", e.Sha384);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        if (r.Log is { } log)
        {
            w.WriteStartObject("log");
            w.WriteNumber("operations", log.Count);
            w.WriteStartArray("runs");
            foreach (var run in Runs(log))
            {
                w.WriteStartArray();
                w.WriteStringValue(run.Operation);
                w.WriteStringValue($"0x{run.Gpa:x}");
                w.WriteStringValue($"0x{run.Stride:x}");
                w.WriteNumberValue(run.Count);
                w.WriteNumberValue(run.Bytes);
                w.WriteStringValue(run.Section);
                w.WriteStringValue(Convert.ToBase64String(run.Contents));
                w.WriteEndArray();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndObject();
    }

    private static void WriteMap(Utf8JsonWriter w, string name, IReadOnlyDictionary<string, string> map)
    {
        w.WriteStartObject(name);
        foreach (var (k, v) in map)
        {
            w.WriteString(k, v);
        }

        w.WriteEndObject();
    }

    private sealed record Run(string Operation, ulong Gpa, ulong Stride, int Count, int Bytes, string Section, byte[] Contents);

    private static List<Run> Runs(IReadOnlyList<MeasuredOperation> log)
    {
        var runs = new List<(MeasuredOperation First, ulong Stride, List<ulong> Contents)>();
        foreach (var op in log)
        {
            if (runs.Count > 0 && runs[^1] is var last && last.First.Operation == op.Operation && last.First.Section == op.Section
                && last.First.BytesHashed == op.BytesHashed && op.Gpa.Value > last.First.Gpa.Value
                && (last.Contents.Count == 1 || op.Gpa.Value - last.First.Gpa.Value == last.Stride * (ulong)last.Contents.Count))
            {
                ulong stride = last.Contents.Count == 1 ? op.Gpa.Value - last.First.Gpa.Value : last.Stride;
                last.Contents.Add(op.Content ?? 0);
                runs[^1] = (last.First, stride, last.Contents);
                continue;
            }

            runs.Add((op, 0, [op.Content ?? 0]));
        }

        return [.. runs.Select(r =>
        {
            var packed = new byte[8 * r.Contents.Count];
            for (int i = 0; i < r.Contents.Count; i++)
            {
                BinaryPrimitives.WriteUInt64BigEndian(packed.AsSpan(8 * i), r.Contents[i]);
            }

            return new Run(r.First.Operation, r.First.Gpa.Value, r.Stride, r.Contents.Count, r.First.BytesHashed, r.First.Section, packed);
        })];
    }

    /// <summary>Reads a document; a malformed one is an <see cref="EvidenceFormatException"/> naming the file and the JSON path.</summary>
    public static ReferenceValueDocument Read(ReadOnlySpan<byte> json, string file)
    {
        // JsonDocument checks UTF-8 only when a string is read, and then throws InvalidOperationException without a place.
        var status = System.Text.Unicode.Utf8.ToUtf16(json, new char[json.Length], out int valid, out _, replaceInvalidSequences: false);
        if (status != System.Buffers.OperationStatus.Done)
        {
            throw new EvidenceFormatException($"{file}: not UTF-8 JSON: invalid byte{(valid < json.Length ? $" 0x{json[valid]:x2}" : "s")} at offset {valid}");
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json.ToArray());
        }
        catch (JsonException e)
        {
            throw new EvidenceFormatException($"{file}: not JSON ({e.Message})");
        }

        try
        {
            return Read(doc, file);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or OverflowException)
        {
            // A value of the wrong JSON kind somewhere the typed reads below do not check: still the document's fault.
            throw new EvidenceFormatException($"{file}: not a reference-value document ({e.Message})");
        }
    }

    private static ReferenceValueDocument Read(JsonDocument doc, string file)
    {
        using (doc)
        {
            var root = doc.RootElement;
            var r = new Reader(file);
            if (r.String(root, "format") != ReferenceValueDocument.Format)
            {
                throw r.Fail("format", $"expected \"{ReferenceValueDocument.Format}\"");
            }

            if (r.Int(root, "version", "version") != ReferenceValueDocument.FormatVersion)
            {
                throw r.Fail("version", $"expected {ReferenceValueDocument.FormatVersion}");
            }

            string toolVersion = r.String(r.Property(root, "tool"), "version", "tool.version");
            var refs = r.Property(root, "references");
            if (refs.ValueKind != JsonValueKind.Array || refs.GetArrayLength() == 0)
            {
                throw r.Fail("references", "expected a non-empty list");
            }

            return new ReferenceValueDocument(toolVersion, [.. refs.EnumerateArray().Select((e, i) => ReadReference(r, e, $"references[{i}]"))]);
        }
    }

    private static ReferenceValue ReadReference(Reader r, JsonElement e, string at)
    {
        string digest = r.String(r.Property(e, "digest", at), "hex", $"{at}.digest.hex");
        if (digest.Length is not (64 or 96) || !digest.All(char.IsAsciiHexDigitLower))
        {
            throw r.Fail($"{at}.digest.hex", "expected 64 or 96 lowercase hex digits");
        }

        return new ReferenceValue
        {
            Name = r.String(e, "name", $"{at}.name"),
            Platform = r.String(e, "platform", $"{at}.platform"),
            Digest = digest,
            Profile = r.Map(e, "profile", at),
            Config = r.Map(e, "config", at),
            Inputs = [.. r.Array(e, "inputs", $"{at}.inputs").Select((i, n) =>
                new ReferenceInput(r.String(i, "role", $"{at}.inputs[{n}].role"), r.String(i, "path", $"{at}.inputs[{n}].path"), r.String(i, "sha256", $"{at}.inputs[{n}].sha256")))],
            Rtmrs = e.TryGetProperty("rtmrs", out _) ? [.. r.Array(e, "rtmrs", $"{at}.rtmrs").Select((x, i) => x.ValueKind == JsonValueKind.String ? x.GetString()! : throw r.Fail($"{at}.rtmrs[{i}]", "expected a string"))] : null,
            RtmrEvents = e.TryGetProperty("rtmrEvents", out _) ? [.. r.Array(e, "rtmrEvents", $"{at}.rtmrEvents").Select((x, i) => ReadEvent(r, x, $"{at}.rtmrEvents[{i}]"))] : null,
            Log = e.TryGetProperty("log", out var log) ? ReadLog(r, log, $"{at}.log") : null,
        };
    }

    private static ReferenceEvent ReadEvent(Reader r, JsonElement e, string at)
    {
        if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("mr", out var mr) || !mr.TryGetUInt32(out uint index) || index is 0 or > 4)
        {
            throw r.Fail($"{at}.mr", "expected a CC MR index 1 to 4");
        }

        string digest = r.String(e, "sha384", $"{at}.sha384");
        return digest.Length == 96 && digest.All(char.IsAsciiHexDigitLower)
            ? new ReferenceEvent(index, r.String(e, "type", $"{at}.type"), digest)
            : throw r.Fail($"{at}.sha384", "expected 96 lowercase hex digits");
    }

    private static List<MeasuredOperation> ReadLog(Reader r, JsonElement log, string at)
    {
        var ops = new List<MeasuredOperation>();
        int n = 0;
        foreach (var run in r.Array(log, "runs", $"{at}.runs"))
        {
            string here = $"{at}.runs[{n++}]";
            try
            {
                var f = run.EnumerateArray().ToArray();
                ulong gpa = ulong.Parse(f[1].GetString()![2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                ulong stride = ulong.Parse(f[2].GetString()![2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                int count = f[3].GetInt32(), bytes = f[4].GetInt32();
                var contents = Convert.FromBase64String(f[6].GetString()!);
                if (count <= 0 || contents.Length != 8 * count)
                {
                    throw r.Fail(here, $"{count} operations but {contents.Length} bytes of fingerprints");
                }

                for (int i = 0; i < count; i++)
                {
                    ops.Add(new MeasuredOperation(ops.Count, f[0].GetString()!, new Gpa(gpa + ((ulong)i * stride)), f[5].GetString()!, bytes,
                        BinaryPrimitives.ReadUInt64BigEndian(contents.AsSpan(8 * i))));
                }
            }
            catch (Exception ex) when (ex is InvalidOperationException or FormatException or IndexOutOfRangeException or OverflowException or ArgumentException)
            {
                throw r.Fail(here, "expected [operation, \"0xGPA\", \"0xSTRIDE\", count, bytes, section, fingerprints]");
            }
        }

        return ops.Count == r.Int(log, "operations", $"{at}.operations") ? ops : throw r.Fail($"{at}.operations", $"the runs hold {ops.Count} operations");
    }

    private sealed class Reader(string file)
    {
        public EvidenceFormatException Fail(string path, string problem) => new($"{file}: {path}: {problem}");

        public JsonElement Property(JsonElement e, string name, string? at = null) =>
            e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? v : throw Fail(at is null ? name : $"{at}.{name}", "missing");

        public string String(JsonElement e, string name, string? path = null)
        {
            var v = Property(e, name, path is null ? null : path[..Math.Max(0, path.LastIndexOf('.'))]);
            return v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Fail(path ?? name, "expected a string");
        }

        /// <summary>A whole number that fits an int; 1e+308 or 2.5 is named, not thrown as FormatException.</summary>
        public int Int(JsonElement e, string name, string path)
        {
            var v = Property(e, name, path[..Math.Max(0, path.LastIndexOf('.'))] is { Length: > 0 } parent ? parent : null);
            return v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int n) ? n : throw Fail(path, $"expected a whole number up to {int.MaxValue}, got {Shown(v)}");
        }

        public JsonElement.ArrayEnumerator Array(JsonElement e, string name, string path)
        {
            var v = Property(e, name, path[..Math.Max(0, path.LastIndexOf('.'))] is { Length: > 0 } parent ? parent : null);
            return v.ValueKind == JsonValueKind.Array ? v.EnumerateArray() : throw Fail(path, $"expected a list, got {Shown(v)}");
        }

        private static string Shown(JsonElement v) => v.ValueKind switch
        {
            JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null => v.GetRawText(),
            JsonValueKind.String => "a string",
            JsonValueKind.Array => "a list",
            _ => "an object",
        };

        public Dictionary<string, string> Map(JsonElement e, string name, string at)
        {
            var v = Property(e, name, at);
            if (v.ValueKind != JsonValueKind.Object)
            {
                throw Fail($"{at}.{name}", "expected an object");
            }

            // JSON allows a name twice in an object; a map of inputs or fields cannot hold both.
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in v.EnumerateObject())
            {
                string value = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : throw Fail($"{at}.{name}.{p.Name}", "expected a string");
                if (!map.TryAdd(p.Name, value))
                {
                    throw Fail($"{at}.{name}.{p.Name}", "given more than once");
                }
            }

            return map;
        }
    }

    /// <summary>The RVPS "sample" message trustee ingests: lists of lowercase hex per reference-value name (trustee ≥ 0.18).</summary>
    public static byte[] WriteTrustee(ReferenceValueDocument doc)
    {
        var values = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        void Add(string name, string value)
        {
            if (!values.TryGetValue(name, out var list))
            {
                values[name] = list = [];
            }

            if (!list.Contains(value))
            {
                list.Add(value);
            }
        }

        foreach (var r in doc.References)
        {
            if (r.Platform == "tdx")
            {
                Add("mr_td", r.Digest);
                if (r.Config.TryGetValue("xfam", out var xfam))
                {
                    // The quote's byte order: the 8 little-endian bytes in hex.
                    var bytes = BitConverter.GetBytes(ulong.Parse(xfam.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    Add("xfam", Convert.ToHexStringLower(bytes));
                }
            }
            else
            {
                Add("snp_launch_measurement", r.Digest);
            }
        }

        // Written with Utf8JsonWriter, as the rest of this file, rather than JsonSerializer, which needs reflection
        // (or a source-generated context) and so does not survive NativeAOT's trimming. Keys in ordinal order.
        using var payload = new MemoryStream();
        using (var w = new Utf8JsonWriter(payload))
        {
            w.WriteStartObject();
            foreach (var (name, list) in values)
            {
                w.WriteStartArray(name);
                list.ForEach(w.WriteStringValue);
                w.WriteEndArray();
            }

            w.WriteEndObject();
        }

        using var message = new MemoryStream();
        using (var w = new Utf8JsonWriter(message, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("payload", Convert.ToBase64String(payload.ToArray()));
            w.WriteString("type", "sample");
            w.WriteString("version", "0.1.0");
            w.WriteEndObject();
        }

        message.WriteByte((byte)'\n');
        return message.ToArray();
    }
}
