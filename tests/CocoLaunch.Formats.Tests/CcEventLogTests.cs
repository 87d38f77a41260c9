using System.Text.Json;
using CocoLaunch.Formats.Tcg;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Formats.Tests;

/// <summary>
/// Real CC event logs from trustee's test data (tests/data/README.md): what trustee's parser found in each, and the
/// RTMRs trustee's tests say the TDX ones replay to, checked against our parser and replay.
/// </summary>
public sealed class CcEventLogTests
{
    private static string Data(string name) => Path.Combine(RepoPaths.Root, "tests", "data", "ccel", name);

    private static CcEventLog Load(string name) => CcEventLog.Parse(File.ReadAllBytes(Data(name)), name);

    public static TheoryData<string[]> Rtmrs => DataTable.Rows("ccel/rtmrs.tsv", "file\t");

    [Theory]
    [MemberData(nameof(Rtmrs))]
    public void RealTdxLogs_ReplayToTheRtmrsTrusteeStates(string[] row)
    {
        var replayed = Load(row[0]).Replay();
        Assert.Equal(row[1..5], replayed.Select(Convert.ToHexStringLower));
    }

    /// <summary>Every record trustee's parser found, in order, with the same MR index, type and digests: none dropped.</summary>
    [Theory]
    [InlineData("CCEL_data")]
    [InlineData("CCEL_data_ovmf")]
    [InlineData("CCEL_data_grub")]
    [InlineData("CCEL_data_grub_gke")]
    [InlineData("CCEL_data_csv")]
    [InlineData("CCEL_AAEL_alibabacloud")]
    public void RealLogs_HaveTheEventsTrusteesParserFound(string name)
    {
        using var expected = JsonDocument.Parse(File.ReadAllText(Data(name + "_out.json")));
        var theirs = expected.RootElement.GetProperty("uefi_event_logs").EnumerateArray().ToList();
        var ours = Load(name).Events;
        Assert.Equal(theirs.Count, ours.Count);
        for (int i = 0; i < ours.Count; i++)
        {
            Assert.Equal(theirs[i].GetProperty("index").GetUInt32(), ours[i].MrIndex);
            Assert.Equal(theirs[i].GetProperty("type_name").GetString(), ours[i].TypeName);
            Assert.Equal(Convert.FromBase64String(theirs[i].GetProperty("event").GetString()!), ours[i].Data);
            Assert.Equal(
                theirs[i].GetProperty("digests").EnumerateArray().Select(d => d.GetProperty("digest").GetString()),
                ours[i].Digests.Select(d => Convert.ToHexStringLower(d.Bytes)));
        }
    }

    [Fact]
    public void OvmfDirectBootLog_DecodesVariablesBlobsAndTags()
    {
        var events = Load("CCEL_data_ovmf").Events;
        string[] described = [.. events.Select(EventData.Describe)];
        Assert.Equal("\"TdxTable\" 1 table(s): 93bb96af-b9f2-4eb8-9462-e0ba74564236 at 0x809000", described[0]);
        Assert.Equal("\"Fv(XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX)\" base 0xffc00000 length 0x84000", described[1]);
        Assert.Equal("8be4df61-93ca-11d2-aa0d-00e098032b8c:SecureBoot (0 bytes of data)", described[2]);
        Assert.Contains("tag 0x8f3b22ec, 13 bytes: \"Linux initrd\"", described);
        Assert.Contains("\"Exit Boot Services Returned with Success\"", described);
    }

    /// <summary>
    /// Every event of the real logs with its data cut at every length is still described, as "does not parse" where
    /// its structure is cut, never by an exception (afl found EV_EFI_PLATFORM_FIRMWARE_BLOB2 with no data).
    /// </summary>
    [Fact]
    public void EveryEventCutShort_IsDescribedWithoutAnException()
    {
        foreach (string name in new[] { "CCEL_data_ovmf", "CCEL_data_grub", "CCEL_AAEL_alibabacloud" })
        {
            foreach (var e in Load(name).Events)
            {
                for (int length = 0; length <= Math.Min(e.Data.Length, 128); length++)
                {
                    Assert.NotEmpty(EventData.Describe(e with { Data = e.Data[..length] }));
                }
            }
        }
    }

    /// <summary>The log cut inside its second record (at 0xad: header to 0xb9, digest to 0xeb, size, 58 bytes of event).</summary>
    [Theory]
    [InlineData(0xd0, "cut: offset 0xbb: the record at 0xad is truncated: a sha384 digest runs past the log's end (0xd0)")]
    [InlineData(0x100, "cut: offset 0xeb: record of EV_EFI_PLATFORM_FIRMWARE_BLOB2 at 0xad: event size 58 runs past the log's end (0x100)")]
    public void TruncatedLog_FailsNamingTheRecordAndOffset(int length, string message)
    {
        byte[] log = File.ReadAllBytes(Data("CCEL_data_ovmf"));
        Assert.Equal(message, Assert.Throws<EventLogFormatException>(() => CcEventLog.Parse(log.AsSpan(0, length), "cut")).Message);
    }

    [Theory]
    [InlineData(4, 0x00, "cut: offset 0x4: the first record is EV_PREBOOT_CERT, not the Spec ID event (EV_NO_ACTION)")]
    [InlineData(0x20, (byte)'X', "cut: offset 0x20: the first record is not a crypto-agile Spec ID event (\"Spec ID Event03\")")]
    [InlineData(0x49, 0x77, "cut: offset 0x49: record of EV_EFI_HANDOFF_TABLES2: 119 digests")]
    [InlineData(0x4d, 0x0b, "cut: offset 0x4d: digest algorithm sha256 is not one the Spec ID event declares")]
    public void CorruptRecords_FailNamingTheOffset(int at, byte value, string message)
    {
        byte[] log = File.ReadAllBytes(Data("CCEL_data_ovmf"));
        log[at] = value;
        Assert.Equal(message, Assert.Throws<EventLogFormatException>(() => CcEventLog.Parse(log, "cut")).Message);
    }
}
