using CocoLaunch.Vmm.Devices;

namespace CocoLaunch.Vmm.Tests.Devices;

public sealed class CmosRtcTests
{
    private static readonly DateTimeOffset Start = new(2025, 12, 31, 23, 59, 58, TimeSpan.Zero);
    private readonly ManualClock clock = new();
    private readonly CmosRtc rtc;

    public CmosRtcTests()
    {
        rtc = new CmosRtc(Start, clock);
    }

    private byte Get(byte register)
    {
        rtc.Write(0x70, 1, register);
        return (byte)rtc.Read(0x71, 1);
    }

    private void Set(byte register, byte value)
    {
        rtc.Write(0x70, 1, register);
        rtc.Write(0x71, 1, value);
    }

    [Fact]
    public void Time_IsBcdAnd24HourByDefault()
    {
        Assert.Equal(0x02, Get(0x0B));
        Assert.Equal(0x58, Get(0x00));
        Assert.Equal(0x59, Get(0x02));
        Assert.Equal(0x23, Get(0x04));
        Assert.Equal(0x31, Get(0x07));
        Assert.Equal(0x12, Get(0x08));
        Assert.Equal(0x25, Get(0x09));
        Assert.Equal(0x20, Get(0x32));
        Assert.Equal(0x04, Get(0x06)); // Wednesday: Sunday is 1
    }

    [Fact]
    public void Time_AdvancesWithVirtualTime_AcrossTheCentury()
    {
        clock.Advance(2_000_000_000);
        Assert.Equal(0x00, Get(0x00));
        Assert.Equal(0x01, Get(0x07));
        Assert.Equal(0x01, Get(0x08));
        Assert.Equal(0x26, Get(0x09));
        Assert.Equal(new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc), rtc.Now);
    }

    [Fact]
    public void RegisterB_BinaryAnd12HourModes()
    {
        Set(0x0B, 0x04);
        Assert.Equal(58, Get(0x00));
        Assert.Equal(0x80 | 11, Get(0x04));
        Set(0x0B, 0x00);
        Assert.Equal(0x91, Get(0x04));
    }

    [Fact]
    public void RegisterA_UipNeverSet()
    {
        Assert.Equal(0x26, Get(0x0A));
        Set(0x0A, 0xA6);
        Assert.Equal(0x26, Get(0x0A));
    }

    [Fact]
    public void RegistersCAndD_ReadNoFlagsAndValidTime()
    {
        Assert.Equal(0x00, Get(0x0C));
        Assert.Equal(0x80, Get(0x0D));
        Set(0x0D, 0x00);
        Set(0x0C, 0xFF);
        Assert.Equal(0x80, Get(0x0D));
        Assert.Equal(0x00, Get(0x0C));
    }

    [Fact]
    public void SettingTheTime_UnderSet_HoldsThenRuns()
    {
        Set(0x0B, 0x82);
        Set(0x09, 0x30);
        Set(0x04, 0x08);
        clock.Advance(5_000_000_000);
        Assert.Equal(0x58, Get(0x00));
        Set(0x0B, 0x02);
        clock.Advance(3_000_000_000);
        Assert.Equal(new DateTime(2030, 12, 31, 9, 0, 1, DateTimeKind.Utc), rtc.Now);
    }

    [Fact]
    public void ImpossibleDates_AreIgnored()
    {
        Set(0x08, 0x02); // 31 February
        Assert.Equal(0x12, Get(0x08));
        Set(0x00, 0x99);
        Assert.Equal(0x58, Get(0x00));
    }

    [Fact]
    public void Nvram_HoldsOtherBytes_AndTheIndexDropsTheNmiBit()
    {
        Set(0x10, 0xAB);
        Set(0x7F, 0xCD);
        Assert.Equal(0xAB, Get(0x10));
        Assert.Equal(0xCD, Get(0xFF));
        Assert.True(rtc.NmiDisabled);
        Get(0x10);
        Assert.False(rtc.NmiDisabled);
        Assert.Equal(0xFFu, rtc.Read(0x70, 1));
    }
}
