namespace CocoLaunch.Vmm.Devices;

/// <summary>
/// The HPET QEMU puts at 0xFED00000 (IA-PC HPET specification 1.0a; QEMU hw/timer/hpet.c): a 64-bit main counter at
/// 100 MHz on device time, three timers with comparators, one-shot or periodic, 64- or 32-bit, and the legacy
/// replacement route Linux uses for its boot clockevent: timer 0 on ISA IRQ 0 (IOAPIC pin 2 here, where the PIT's
/// output is then cut off) and timer 1 on IRQ 8. Otherwise a timer interrupts on the IOAPIC pin its route field
/// names. FSB (MSI) delivery is not offered.
/// </summary>
public sealed class Hpet(IDeviceClock clock, IInterruptLines irq) : IMmioDevice
{
    public const ulong Base = 0xFED0_0000, WindowSize = 0x400;
    public const int Timers = 3;

    /// <summary>The counter period in femtoseconds: 10 ns (QEMU include/hw/timer/hpet.h HPET_CLK_PERIOD).</summary>
    public const uint PeriodFs = 10_000_000;
    private const ulong NanosecondsPerTick = PeriodFs / 1_000_000;

    // Register offsets.
    private const ulong Capabilities = 0x000, Configuration = 0x010, InterruptStatus = 0x020, MainCounter = 0x0F0;
    private const ulong TimerBlock = 0x100, TimerStride = 0x20, TimerConfig = 0x0, TimerComparator = 0x8;

    /// <summary>Revision 1, timers − 1 in bits 12:8, 64-bit counter, legacy replacement capable, vendor 0x8086.</summary>
    public const uint CapabilitiesLow = 0x8086_A201;

    // General configuration bits.
    private const ulong Enable = 1 << 0, LegacyRoute = 1 << 1;

    // Timer configuration bits.
    private const ulong LevelTriggered = 1 << 1, InterruptEnable = 1 << 2, Periodic = 1 << 3, PeriodicCapable = 1 << 4;
    private const ulong Size64Capable = 1 << 5, ValueSet = 1 << 6, Mode32 = 1 << 8, RouteShift = 9, RouteMask = 0x1F;
    private const ulong WritableConfig = LevelTriggered | InterruptEnable | Periodic | ValueSet | Mode32 | (RouteMask << (int)RouteShift);

    /// <summary>The IOAPIC pins a timer may be routed to: 2, 8 and 16-23, as QEMU's PC board offers them (hw/i386/pc.c).</summary>
    private const ulong RouteCapabilities = 0x00FF_0104UL << 32;

    /// <summary>ISA IRQ 0 reaches IOAPIC pin 2; IRQ 8 is the RTC's.</summary>
    private const int LegacyTimer0Gsi = 2, LegacyTimer1Gsi = 8;

    private readonly Lock gate = new();
    private readonly HpetTimer[] timers = [new(), new(), new()];
    private ulong configuration, interruptStatus;

    /// <summary>The counter's value at <see cref="counterEpoch"/> (device time), and while stopped.</summary>
    private ulong counterAtEpoch, counterEpoch;

    /// <summary>Whether legacy replacement routing is on: the PIT's IRQ 0 and the RTC's IRQ 8 are then the HPET's.</summary>
    public bool LegacyReplacement
    {
        get
        {
            lock (gate)
            {
                return (configuration & (Enable | LegacyRoute)) == (Enable | LegacyRoute);
            }
        }
    }

    private bool Running => (configuration & Enable) != 0;

    private ulong Counter(ulong now) => Running ? counterAtEpoch + ((now - counterEpoch) / NanosecondsPerTick) : counterAtEpoch;

    public ulong Read(ulong offset, int size)
    {
        lock (gate)
        {
            ulong aligned = offset & ~7UL;
            ulong value = aligned switch
            {
                Capabilities => CapabilitiesLow | ((ulong)PeriodFs << 32),
                Configuration => configuration,
                InterruptStatus => interruptStatus,
                MainCounter => Counter(clock.Nanoseconds),
                >= TimerBlock and < TimerBlock + (Timers * TimerStride) => ReadTimer(timers[(aligned - TimerBlock) / TimerStride], (aligned - TimerBlock) % TimerStride),
                _ => 0,
            };
            return (offset & 4) != 0 ? value >> 32 : size == 8 ? value : (uint)value;
        }
    }

    public void Write(ulong offset, int size, ulong value)
    {
        lock (gate)
        {
            ulong aligned = offset & ~7UL;
            ulong old = aligned switch
            {
                Configuration => configuration,
                InterruptStatus => interruptStatus,
                MainCounter => Counter(clock.Nanoseconds),
                >= TimerBlock and < TimerBlock + (Timers * TimerStride) => ReadTimer(timers[(aligned - TimerBlock) / TimerStride], (aligned - TimerBlock) % TimerStride),
                _ => 0,
            };

            // A 32-bit access replaces one half of the 64-bit register.
            ulong merged = size == 8 ? value : (offset & 4) != 0 ? (old & 0xFFFF_FFFF) | (value << 32) : (old & ~0xFFFF_FFFFUL) | (uint)value;
            switch (aligned)
            {
                case Configuration:
                    SetConfiguration(merged);
                    break;
                case InterruptStatus:
                    // Write one to clear a level-triggered timer's status bit.
                    interruptStatus &= ~(size == 8 ? value : (offset & 4) != 0 ? value << 32 : (uint)value);
                    break;
                case MainCounter when !Running:
                    counterAtEpoch = merged;
                    break;
                case >= TimerBlock and < TimerBlock + (Timers * TimerStride):
                    WriteTimer((int)((aligned - TimerBlock) / TimerStride), (aligned - TimerBlock) % TimerStride, merged, size == 8 || (offset & 4) == 0);
                    break;
            }
        }
    }

    private void SetConfiguration(ulong value)
    {
        ulong now = clock.Nanoseconds;
        counterAtEpoch = Counter(now);
        counterEpoch = now;
        configuration = value & (Enable | LegacyRoute);
    }

    private static ulong ReadTimer(HpetTimer timer, ulong register) => register switch
    {
        TimerConfig => timer.Config | PeriodicCapable | Size64Capable | RouteCapabilities,
        TimerComparator => timer.Comparator,
        _ => 0,
    };

    private void WriteTimer(int index, ulong register, ulong value, bool lowHalf)
    {
        var timer = timers[index];
        timer.ArmedAt = Counter(clock.Nanoseconds);
        if (register == TimerConfig)
        {
            timer.Config = value & WritableConfig;
            timer.Armed = true;
            return;
        }

        if (register != TimerComparator)
        {
            return;
        }

        // A periodic timer's comparator write sets the period, and the comparator too when VAL_SET was written
        // first (or for a one-shot timer); VAL_SET clears itself (hw/timer/hpet.c hpet_ram_write).
        if ((timer.Config & Mode32) != 0)
        {
            value = (uint)value;
        }

        bool periodic = (timer.Config & Periodic) != 0;
        if (!periodic || (timer.Config & ValueSet) != 0)
        {
            timer.Comparator = value;
        }

        if (periodic && lowHalf)
        {
            timer.Period = value & ((timer.Config & Mode32) != 0 ? uint.MaxValue >> 1 : ulong.MaxValue >> 1);
        }

        timer.Config &= ~ValueSet;
        timer.Armed = true;
    }

    /// <summary>When the next timer interrupt is due (device nanoseconds), or null when no timer will interrupt.</summary>
    public ulong? NextIrqNanoseconds
    {
        get
        {
            lock (gate)
            {
                ulong now = clock.Nanoseconds;
                ulong? next = null;
                foreach (var timer in timers)
                {
                    if (NextMatch(timer) is { } count)
                    {
                        ulong counter = Counter(now);
                        ulong at = count <= counter ? now : now + ((count - counter) * NanosecondsPerTick);
                        next = next is { } n && n <= at ? n : at;
                    }
                }

                return next;
            }
        }
    }

    /// <summary>Raises the interrupts of the timers whose comparator the counter has reached; true when any did.</summary>
    public bool Tick()
    {
        var pulses = new List<int>();
        lock (gate)
        {
            ulong counter = Counter(clock.Nanoseconds);
            for (int i = 0; i < Timers; i++)
            {
                var timer = timers[i];
                if (NextMatch(timer) is not { } match || match > counter)
                {
                    continue;
                }

                if ((timer.Config & Periodic) != 0 && timer.Period != 0)
                {
                    // Several missed periods give one interrupt, and the comparator moves past the counter.
                    ulong missed = ((counter - match) / timer.Period) + 1;
                    timer.Comparator = Wrap(timer, match + (missed * timer.Period));
                    timer.ArmedAt = counter + 1;
                }
                else
                {
                    timer.Armed = false;
                }

                if ((timer.Config & LevelTriggered) != 0)
                {
                    interruptStatus |= 1UL << i;
                }

                pulses.Add(Gsi(i, timer));
            }
        }

        foreach (int gsi in pulses)
        {
            irq.SetLevel(gsi, true);
            irq.SetLevel(gsi, false);
        }

        return pulses.Count > 0;
    }

    /// <summary>
    /// The counter value at which <paramref name="timer"/> next interrupts, or null when it will not: the first match
    /// of its comparator from the count at which it was last written or fired. A 64-bit comparator already passed
    /// then never matches; a 32-bit one matches the counter's low half, so it waits for the wrap.
    /// </summary>
    private ulong? NextMatch(HpetTimer timer)
    {
        if (!Running || !timer.Armed || (timer.Config & InterruptEnable) == 0)
        {
            return null;
        }

        if ((timer.Config & Mode32) == 0)
        {
            return timer.Comparator >= timer.ArmedAt ? timer.Comparator : null;
        }

        return timer.ArmedAt + (((uint)timer.Comparator - (uint)timer.ArmedAt) & uint.MaxValue);
    }

    private static ulong Wrap(HpetTimer timer, ulong comparator) => (timer.Config & Mode32) != 0 ? (uint)comparator : comparator;

    private int Gsi(int index, HpetTimer timer) => (configuration & LegacyRoute) != 0 && index < 2
        ? (index == 0 ? LegacyTimer0Gsi : LegacyTimer1Gsi)
        : (int)((timer.Config >> (int)RouteShift) & RouteMask);

    private sealed class HpetTimer
    {
        public ulong Config { get; set; }

        public ulong Comparator { get; set; }

        public ulong Period { get; set; }

        /// <summary>False once a one-shot timer has fired, until its comparator or configuration is written again.</summary>
        public bool Armed { get; set; } = true;

        /// <summary>The counter value from which the comparator's next match counts.</summary>
        public ulong ArmedAt { get; set; }
    }
}
