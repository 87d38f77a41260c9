using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CocoLaunch.Cli.Reports;

/// <summary>
/// The source-generated serializer of the verbs' JSON outputs (JsonShapes.cs), which NativeAOT needs: the
/// reflection-based one is trimmed away there. <see cref="Relaxed"/> is for the outputs that have always left
/// non-ASCII and HTML-sensitive characters unescaped (eventlog, verify-evidence, measure of a TDX spec).
/// </summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(SnpMeasureJson))]
[JsonSerializable(typeof(TdxMeasureJson))]
[JsonSerializable(typeof(IgvmMeasureJson))]
[JsonSerializable(typeof(VerifyJson))]
[JsonSerializable(typeof(EvidenceJson))]
[JsonSerializable(typeof(EventLogJson))]
internal sealed partial class CliJson : JsonSerializerContext
{
    private static CliJson? relaxed;

    // Made on first use: a static initializer could run before the generated Default's, in the other part of the class.
    public static CliJson Relaxed => relaxed ??= new(new JsonSerializerOptions(Default.Options) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
}
