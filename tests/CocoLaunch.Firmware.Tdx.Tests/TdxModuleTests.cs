using System.Security.Cryptography;
using CocoLaunch.Abi;

namespace CocoLaunch.Firmware.Tdx.Tests;

/// <summary>The emulated TDX module's build rules and statuses, and TDREPORT/RTMR arithmetic.</summary>
public sealed class TdxModuleTests
{
    private static readonly byte[] Page = new byte[4096];

    private static TdxTd Td()
    {
        var td = new TdxTd();
        td.MngInit(TdParams.Default);
        return td;
    }

    private static TdxStatus StatusOf(Action action) => Assert.Throws<TdxException>(action).Status;

    [Fact]
    public void PageAdd_Twice_EptEntryNotFree()
    {
        var td = Td();
        td.MemPageAdd(new Gpa(0x80_0000), Page, new byte[4096]);
        Assert.Equal(TdxStatus.EptEntryNotFree, StatusOf(() => td.MemPageAdd(new Gpa(0x80_0000), Page, new byte[4096])));
    }

    [Fact]
    public void PageAdd_WhileTheSecureEptLockIsHeld_OperandBusy_ThenSucceedsWithTheSameMrtd()
    {
        var busy = Td();
        var hold = busy.HoldSecureEptLock();
        Assert.Equal(TdxStatus.OperandBusy, StatusOf(() => busy.MemPageAdd(new Gpa(0x80_0000), Page, new byte[4096])));
        Assert.Equal(0L, busy.PagesAdded);
        hold.Dispose();
        hold.Dispose(); // a second release must not free a lock someone else holds
        using (busy.HoldSecureEptLock())
        {
            Assert.Equal(TdxStatus.OperandBusy, StatusOf(() => busy.MemPageAdd(new Gpa(0x80_0000), Page, new byte[4096])));
        }

        busy.MemPageAdd(new Gpa(0x80_0000), Page, new byte[4096]);

        // The refused attempt left no trace in MRTD.
        var plain = Td();
        plain.MemPageAdd(new Gpa(0x80_0000), Page, new byte[4096]);
        Assert.Equal(plain.MrFinalize(), busy.MrFinalize());
    }

    [Theory]
    [InlineData(0x80_0800UL)] // misaligned
    [InlineData(0x8000_0080_0000UL)] // shared bit 47
    public void PageAdd_BadGpa_OperandInvalid(ulong gpa) => Assert.Equal(TdxStatus.OperandInvalid, StatusOf(() => Td().MemPageAdd(new Gpa(gpa), Page, new byte[4096])));

    [Fact]
    public void Extend_PageNeverAdded_EptWalkFailed() => Assert.Equal(TdxStatus.EptWalkFailed, StatusOf(() => Td().MrExtend(new Gpa(0x80_0000), new byte[256])));

    [Fact]
    public void Extend_Misaligned_OperandInvalid()
    {
        var td = Td();
        td.MemPageAdd(new Gpa(0x80_0000), Page, new byte[4096]);
        Assert.Equal(TdxStatus.OperandInvalid, StatusOf(() => td.MrExtend(new Gpa(0x80_0080), new byte[256])));
    }

    [Fact]
    public void AfterFinalize_AddExtendAndFinalizeFail()
    {
        var td = Td();
        td.MemPageAdd(new Gpa(0x80_0000), Page, new byte[4096]);
        td.MrFinalize();
        Assert.Equal(TdxStatus.OpStateIncorrect, StatusOf(() => td.MemPageAdd(new Gpa(0x80_1000), Page, new byte[4096])));
        Assert.Equal(TdxStatus.OpStateIncorrect, StatusOf(() => td.MrExtend(new Gpa(0x80_0000), new byte[256])));
        Assert.Equal(TdxStatus.OpStateIncorrect, StatusOf(() => td.MrFinalize()));
    }

    [Fact]
    public void BeforeInit_PageAddFails_AndInitTwiceFails()
    {
        var td = new TdxTd();
        Assert.Equal(TdxStatus.OpStateIncorrect, StatusOf(() => td.MemPageAdd(new Gpa(0x80_0000), Page, new byte[4096])));
        td.MngInit(TdParams.Default);
        Assert.Equal(TdxStatus.OpStateIncorrect, StatusOf(() => td.MngInit(TdParams.Default)));
    }

    [Fact]
    public void Mrtd_OnePageAdded_IsSha384OfTheSpecRecord()
    {
        // tdx-mrtd.md §2 byte example: "MEM.PAGE.ADD", zeros, GPA 0xFFE20000 at byte 16, zeros to 128.
        var record = new byte[128];
        "MEM.PAGE.ADD"u8.CopyTo(record);
        record[18] = 0xE2;
        record[19] = 0xFF;
        var td = Td();
        td.MemPageAdd(new Gpa(0xFFE2_0000), Page, new byte[4096]);
        Assert.Equal(SHA384.HashData(record), td.MrFinalize());
        Assert.Equal(1, td.Log.Count);
    }

    [Fact]
    public void RtmrExtend_IsSha384OfOldValueAndInput()
    {
        var td = Td();
        byte[] value = SHA384.HashData("event"u8);
        td.RtmrExtend(2, value);
        Assert.Equal(SHA384.HashData([.. new byte[48], .. value]), td.Rtmrs[2]);
        Assert.Equal(new byte[48], td.Rtmrs[0]);
        Assert.Equal(TdxStatus.OperandInvalid, StatusOf(() => td.RtmrExtend(4, value)));
    }

    [Fact]
    public void Report_LayoutAndMac()
    {
        var td = Td();
        td.MemPageAdd(new Gpa(0x80_0000), Page, new byte[4096]);
        byte[] mrtd = td.MrFinalize();
        byte[] reportData = Enumerable.Range(0, 64).Select(i => (byte)i).ToArray();
        byte[] report = td.Report(reportData);

        Assert.Equal(1024, report.Length);
        Assert.Equal(0x81, report[0]); // REPORTTYPE TDX
        Assert.Equal(reportData, report[0x80..0xC0]);
        Assert.Equal(mrtd, report[0x210..0x240]); // TDINFO.MRTD at 0x200 + 0x10
        Assert.Equal(0x1000_0000UL, BitConverter.ToUInt64(report, 0x200));
        Assert.Equal(0x602E7UL, BitConverter.ToUInt64(report, 0x208));
        Assert.Equal(SHA384.HashData(report.AsSpan(0x200, 0x200)), report[0x50..0x80]); // TEE_INFO_HASH
        Assert.True(TdReport.Verify(report));

        report[0x210] ^= 1; // tamper with MRTD
        Assert.False(TdReport.Verify(report));
    }
}
