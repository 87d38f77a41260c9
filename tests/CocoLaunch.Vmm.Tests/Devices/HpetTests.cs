using CocoLaunch.Vmm.Devices;

namespace CocoLaunch.Vmm.Tests.Devices;

/// <summary>
/// The HPET driven the way Linux 6.12's arch/x86/kernel/hpet.c drives it: the capabilities it checks, a counter that
/// counts, and channel 0 in legacy replacement mode as the boot clockevent, periodic (VAL_SET, then the period) and
/// one-shot, in 32-bit mode, on IRQ 0 (IOAPIC pin 2).
/// </summary>
public sealed class HpetTests
{
    private const ulong Config = 0x10, Counter = 0xF0, T0Config = 0x100, T0Comparator = 0x108;
    private const ulong Enable = 1, Legacy = 2, IntEnable = 1 << 2, Periodic = 1 << 3, ValueSet = 1 << 6, Mode32 = 1 << 8;

    private readonly ManualClock clock = new();
    private readonly RecordingLines lines = new();
    private readonly Hpet hpet;

    public HpetTests() => hpet = new Hpet(clock, lines);

    private int Pulses(int gsi) => lines.Changes.Count(c => c.Gsi == gsi && c.Asserted);

    [Fact]
    public void Capabilities_AreQemus_AndTheCounterCountsAt100MHzOnlyWhileEnabled()
    {
        Assert.Equal(Hpet.CapabilitiesLow, hpet.Read(0, 4)); // the HPET table's event timer block ID repeats it
        Assert.Equal(Hpet.PeriodFs, hpet.Read(4, 4)); // 10 ns in femtoseconds
        Assert.NotEqual(0xFFFF_FFFFu, hpet.Read(Config, 4)); // Linux's hpet_cfg_working

        clock.Advance(1_000);
        Assert.Equal(0u, hpet.Read(Counter, 4));
        hpet.Write(Config, 4, Enable);
        clock.Advance(1_000);
        Assert.Equal(100u, hpet.Read(Counter, 4));
        hpet.Write(Config, 4, 0);
        clock.Advance(1_000);
        Assert.Equal(100UL, hpet.Read(Counter, 8));
    }

    [Fact]
    public void LegacyPeriodic_PulsesIrq0OnPin2_EveryPeriod_AndMissedPeriodsGiveOnePulse()
    {
        // hpet_clkevt_set_state_periodic: stop, config with VAL_SET, comparator = now + delta, then delta, start.
        hpet.Write(Config, 4, Legacy);
        hpet.Write(T0Config, 4, IntEnable | Periodic | ValueSet | Mode32);
        hpet.Write(T0Comparator, 4, 400_000);
        hpet.Write(T0Comparator, 4, 400_000); // 4 ms: HZ=250
        hpet.Write(Config, 4, Legacy | Enable);
        Assert.True(hpet.LegacyReplacement);
        Assert.Equal(4_000_000UL, hpet.NextIrqNanoseconds);

        clock.Advance(3_999_990);
        Assert.False(hpet.Tick());
        clock.Advance(10);
        Assert.True(hpet.Tick());
        Assert.Equal(1, Pulses(2));
        Assert.Equal(8_000_000UL, hpet.NextIrqNanoseconds);

        clock.Advance(10_000_000); // two periods missed: one pulse, and the next period after now
        Assert.True(hpet.Tick());
        Assert.Equal(2, Pulses(2));
        Assert.Equal(16_000_000UL, hpet.NextIrqNanoseconds);
    }

    [Fact]
    public void OneShot_FiresOnce_AtTheComparator()
    {
        hpet.Write(Config, 4, Legacy | Enable);
        hpet.Write(T0Config, 4, IntEnable | Mode32);
        clock.Advance(1_000);
        hpet.Write(T0Comparator, 4, hpet.Read(Counter, 4) + 500); // hpet_clkevt_set_next_event: now + delta
        Assert.Equal(6_000UL, hpet.NextIrqNanoseconds);
        clock.Advance(5_000);
        Assert.True(hpet.Tick());
        Assert.Null(hpet.NextIrqNanoseconds);
        clock.Advance(5_000);
        Assert.False(hpet.Tick());
        Assert.Equal(1, Pulses(2));
    }

    [Fact]
    public void WithoutLegacyRoute_ATimerUsesItsRouteField_AndAMaskedTimerNeverFires()
    {
        hpet.Write(Config, 4, Enable);
        hpet.Write(T0Config, 4, (20UL << 9) | Mode32); // routed to pin 20, interrupts off
        hpet.Write(T0Comparator, 4, 100);
        Assert.Null(hpet.NextIrqNanoseconds);
        hpet.Write(T0Config, 4, (20UL << 9) | IntEnable | Mode32);
        hpet.Write(T0Comparator, 4, 100);
        clock.Advance(1_000);
        Assert.True(hpet.Tick());
        Assert.Equal(1, Pulses(20));
        Assert.Equal(0x00FF_0104u, hpet.Read(T0Config + 4, 4)); // the pins a timer may be routed to: 2, 8, 16-23
    }
}
