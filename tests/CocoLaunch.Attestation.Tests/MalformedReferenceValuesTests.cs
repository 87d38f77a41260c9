using System.Text;
using CocoLaunch.Attestation.ReferenceValues;

namespace CocoLaunch.Attestation.Tests;

/// <summary>Every malformed reference-value document is an <see cref="EvidenceFormatException"/> naming the file and the JSON path or byte offset.</summary>
public sealed class MalformedReferenceValuesTests
{
    private const string Reference = """{"name":"a","platform":"tdx","digest":{"hex":"%D"},"profile":{},"config":{},"inputs":[]%X}""";

    private static string Document(string version = "1", string extra = "") =>
        """{"format":"cocolaunch-reference-values","version":%V,"tool":{"version":"0.1.0"},"references":[%R]}"""
            .Replace("%V", version, StringComparison.Ordinal)
            .Replace("%R", Reference.Replace("%D", new string('a', 96), StringComparison.Ordinal).Replace("%X", extra, StringComparison.Ordinal), StringComparison.Ordinal);

    private static string Refused(byte[] json) => Assert.Throws<EvidenceFormatException>(() => ReferenceValueJson.Read(json, "rv.json")).Message;

    private static string Refused(string json) => Refused(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void Read_WellFormed_Reads() => Assert.Equal("a", ReferenceValueJson.Read(Encoding.UTF8.GetBytes(Document()), "rv.json").References[0].Name);

    [Fact]
    public void Read_InvalidUtf8InAString_NamesTheOffset()
    {
        byte[] json = Encoding.UTF8.GetBytes(Document());
        int at = Array.IndexOf(json, (byte)'a', Encoding.UTF8.GetBytes(Document()).AsSpan().IndexOf("\"name\":\""u8) + 8);
        json[at] = 0xFF;
        Assert.Equal($"rv.json: not UTF-8 JSON: invalid byte 0xff at offset {at}", Refused(json));
    }

    [Theory]
    [InlineData("1e+308")]
    [InlineData("2.5")]
    [InlineData("-99999999999")]
    public void Read_VersionOutOfRange_NamesThePath(string version) =>
        Assert.Equal($"rv.json: version: expected a whole number up to 2147483647, got {version}", Refused(Document(version)));

    [Fact]
    public void Read_LogOperationsOutOfRange_NamesThePath() =>
        Assert.Equal("rv.json: references[0].log.operations: expected a whole number up to 2147483647, got 1e+308",
            Refused(Document(extra: ""","log":{"operations":1e+308,"runs":[]}""")));

    [Theory]
    [InlineData(""","inputs2":0""", null)]
    [InlineData(""","rtmrs":5""", "rv.json: references[0].rtmrs: expected a list, got 5")]
    [InlineData(""","rtmrs":[1]""", "rv.json: references[0].rtmrs[0]: expected a string")]
    [InlineData(""","log":{"operations":1,"runs":{}}""", "rv.json: references[0].log.runs: expected a list, got an object")]
    public void Read_WrongKinds_NameThePath(string extra, string? expected)
    {
        if (expected is null)
        {
            ReferenceValueJson.Read(Encoding.UTF8.GetBytes(Document(extra: extra)), "rv.json"); // unknown members are ignored
            return;
        }

        Assert.Equal(expected, Refused(Document(extra: extra)));
    }

    [Fact]
    public void Read_InputsNotAList_NamesThePath() =>
        Assert.Equal("rv.json: references[0].inputs: expected a list, got a string",
            Refused(Document().Replace("\"inputs\":[]", "\"inputs\":\"x\"", StringComparison.Ordinal)));

    [Fact]
    public void Read_TruncatedJson_NamesTheBytePosition() =>
        Assert.StartsWith("rv.json: not JSON (", Refused(Document()[..40]), StringComparison.Ordinal);

    [Fact]
    public void Read_ANameTwiceInAMap_NamesThePath()
    {
        // Found by the mutation smoke run: Dictionary's ArgumentException ("same key has already been added"), exit 3.
        string json = Document().Replace("\"config\":{}", "\"config\":{\"mrowner\":\"00\",\"mrowner\":\"11\"}", StringComparison.Ordinal);
        Assert.StartsWith("rv.json: references[0].config.mrowner: given more than once", Refused(json), StringComparison.Ordinal);
    }
}
