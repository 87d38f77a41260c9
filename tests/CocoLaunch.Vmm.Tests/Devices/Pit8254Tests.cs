using CocoLaunch.Vmm.Devices;

namespace CocoLaunch.Vmm.Tests.Devices;

public sealed class Pit8254Tests
{
    private readonly ManualClock clock = new();
    private readonly RecordingLines lines = new();
    private readonly Pit8254 pit;
    private readonly SystemControlPortB portB;

    public Pit8254Tests()
    {
        pit = new Pit8254(clock, lines);
        portB = new SystemControlPortB(pit, clock);
    }

    private void Out(ushort port, byte value)
    {
        if (port == 0x61)
        {
            portB.Write(port, 1, value);
        }
        else
        {
            pit.Write(port, 1, value);
        }
    }

    private byte In(ushort port) => (byte)(port == 0x61 ? portB.Read(port, 1) : pit.Read(port, 1));

    /// <summary>Advances the clock by whole 8254 input clocks (rounded up so the tick has surely passed).</summary>
    private void AdvanceTicks(ulong ticks) => clock.Advance(((ticks * 1_000_000_000) + 1_193_181) / 1_193_182);

    private ushort ReadWord(ushort port) => (ushort)(In(port) | (In(port) << 8));

    [Fact]
    public void QuickPitCalibrate_Counter2Mode0_MsbFallsEvery256Clocks()
    {
        Out(0x61, (byte)((In(0x61) & ~0x02) | 0x01));
        Out(0x43, 0xB0);
        Out(0x42, 0xFF);
        Out(0x42, 0xFF);
        Assert.Equal(0xFFFF, ReadWord(0x42));
        AdvanceTicks(256);
        In(0x42);
        Assert.Equal(0xFE, In(0x42));
        AdvanceTicks(256 * 9);
        Assert.Equal(0xF5FF, ReadWord(0x42));
    }

    [Fact]
    public void PitCalibrateTsc_Out2RisesAtTerminalCount()
    {
        const ushort latch = 59659; // CLOCK_TICK_RATE / (1000 / 50)
        Out(0x61, 0x01);
        Out(0x43, 0xB0);
        Out(0x42, latch & 0xFF);
        Out(0x42, latch >> 8);
        Assert.Equal(0, In(0x61) & 0x20);
        AdvanceTicks(latch - 1);
        Assert.Equal(0, In(0x61) & 0x20);
        AdvanceTicks(1);
        Assert.Equal(0x20, In(0x61) & 0x20);
    }

    [Fact]
    public void Counter2_DoesNotCountWhileItsGateIsLow()
    {
        Out(0x43, 0xB0);
        Out(0x42, 0x00);
        Out(0x42, 0x10);
        AdvanceTicks(100);
        Assert.Equal(0x1000, ReadWord(0x42));
        Out(0x61, 0x01);
        AdvanceTicks(0x10);
        Out(0x61, 0x00);
        AdvanceTicks(100);
        Assert.Equal(0x0FF0, ReadWord(0x42));
        Out(0x61, 0x01);
        AdvanceTicks(0x10);
        Assert.Equal(0x0FE0, ReadWord(0x42));
    }

    [Fact]
    public void PortB_KeepsTheLowFourBits_RefreshToggles()
    {
        Out(0x61, 0xFF);
        Assert.Equal(0x0F, In(0x61) & 0x0F);
        byte before = (byte)(In(0x61) & 0x10);
        clock.Advance(15_085);
        Assert.NotEqual(before, In(0x61) & 0x10);
    }

    [Fact]
    public void CounterLatch_FreezesTheCountUntilRead()
    {
        Out(0x43, 0x34); // counter 0, LSB then MSB, mode 2
        Out(0x40, 0x00);
        Out(0x40, 0x10);
        AdvanceTicks(5);
        Out(0x43, 0x00);
        AdvanceTicks(5);
        Out(0x43, 0x00); // a second latch before the read is ignored
        Assert.Equal(0x0FFB, ReadWord(0x40));
        Assert.Equal(0x0FF6, ReadWord(0x40));
    }

    [Fact]
    public void ReadBack_StatusThenCount()
    {
        Out(0x43, 0xB0);
        Out(0x42, 0x34);
        Out(0x42, 0x12);
        Out(0x43, 0xC8); // read-back, latch count and status of counter 2
        AdvanceTicks(3);
        Assert.Equal(0x30, In(0x42)); // OUT low, count loaded, LSB/MSB, mode 0, binary
        Assert.Equal(0x1234, ReadWord(0x42));
    }

    [Fact]
    public void ReadBack_StatusShowsNullCountBeforeTheLoad()
    {
        Out(0x43, 0x76); // counter 1, LSB/MSB, mode 3
        Out(0x43, 0xE4); // read-back, status only, counter 1
        Assert.Equal(0x80 | 0x40 | 0x36, In(0x41));
    }

    [Fact]
    public void AccessModes_LsbOnlyAndMsbOnly()
    {
        Out(0x43, 0x10); // counter 0, LSB only, mode 0
        Out(0x40, 0x80);
        Assert.Equal(0x80, In(0x40));
        Out(0x43, 0x20); // counter 0, MSB only, mode 0
        Out(0x40, 0x02);
        Assert.Equal(0x02, In(0x40));
        AdvanceTicks(1);
        Assert.Equal(0x01, In(0x40));
    }

    [Fact]
    public void Mode2_Counter0_RaisesIrq0EveryPeriod()
    {
        Assert.Null(pit.NextIrqNanoseconds);
        Out(0x43, 0x34);
        Out(0x40, 0x9C); // LATCH for HZ = 100: 11932 = 0x2E9C clocks, 10.000151 ms
        Out(0x40, 0x2E);
        ulong first = pit.NextIrqNanoseconds!.Value;
        Assert.InRange(first, 10_000_150UL, 10_000_152UL);

        pit.Tick();
        Assert.Empty(lines.Changes);
        clock.Nanoseconds = first;
        pit.Tick();
        Assert.Equal([(0, true), (0, false)], lines.Changes);
        Assert.InRange(pit.NextIrqNanoseconds!.Value - first, 10_000_150UL, 10_000_152UL);

        clock.Nanoseconds = first + 35_000_000; // three periods missed: one pulse, then the next due one
        pit.Tick();
        Assert.Equal(4, lines.Changes.Count);
        Assert.True(pit.NextIrqNanoseconds > clock.Nanoseconds);
    }

    [Fact]
    public void Mode0_Counter0_RaisesIrq0Once()
    {
        Out(0x43, 0x30);
        Out(0x40, 100);
        Out(0x40, 0);
        AdvanceTicks(100);
        pit.Tick();
        Assert.Equal(2, lines.Changes.Count);
        Assert.Null(pit.NextIrqNanoseconds);
    }

    [Fact]
    public void Mode3_CountsByTwo_OutputHighForTheFirstHalf()
    {
        Out(0x61, 0x01);
        Out(0x43, 0xB6); // counter 2, LSB/MSB, mode 3
        Out(0x42, 10);
        Out(0x42, 0);
        Assert.Equal(0x20, In(0x61) & 0x20);
        AdvanceTicks(2);
        Assert.Equal(6, ReadWord(0x42));
        AdvanceTicks(3);
        Assert.Equal(0, In(0x61) & 0x20);
        AdvanceTicks(5);
        Assert.Equal(0x20, In(0x61) & 0x20);
    }

    [Fact]
    public void Mode2_CountsDownFromTheReloadValueAndWraps()
    {
        Out(0x43, 0x34);
        Out(0x40, 5);
        Out(0x40, 0);
        AdvanceTicks(3);
        Assert.Equal(2, ReadWord(0x40));
        AdvanceTicks(3);
        Assert.Equal(4, ReadWord(0x40));
    }

    [Fact]
    public void ZeroCount_Means65536()
    {
        Out(0x43, 0x34);
        Out(0x40, 0);
        Out(0x40, 0);
        AdvanceTicks(1);
        Assert.Equal(0xFFFF, ReadWord(0x40));
    }

    [Fact]
    public void ControlWordPort_ReadsAllOnes()
    {
        Assert.Equal(0xFF, In(0x43));
    }
}
