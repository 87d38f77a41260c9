namespace CocoLaunch.Vmm.Devices;

/// <summary>
/// The PC's Intel 8254 interval timer at 0x40–0x43, clocked at 1,193,182 Hz from virtual time. Counter 0 drives
/// IRQ0; counter 2's gate and output belong to <see cref="SystemControlPortB"/> (port 0x61), which is how Linux's
/// quick_pit_calibrate and pit_calibrate_tsc (arch/x86/kernel/tsc.c) time the TSC. No host timer runs: the exit
/// loop asks <see cref="NextIrqNanoseconds"/> and calls <see cref="Tick"/>.
/// </summary>
public sealed class Pit8254 : IPortDevice
{
    public const ushort Counter0 = 0x40;
    public const ushort Counter2 = 0x42;
    public const ushort ControlWord = 0x43;
    public const ushort PortCount = 4;
    public const int Irq0Gsi = 0;

    // Control word fields (datasheet "Control Word Format").
    private const int SelectReadBack = 3;
    private const int AccessLatch = 0;
    private const byte ReadBackLatchCountOff = 0x20;
    private const byte ReadBackLatchStatusOff = 0x10;

    private readonly IDeviceClock clock;
    private readonly IInterruptLines irq;
    private readonly int gsi;
    private readonly PitChannel[] counters;
    private readonly Lock gate = new();

    public Pit8254(IDeviceClock clock, IInterruptLines irq, int gsi = Irq0Gsi)
    {
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(irq);
        this.clock = clock;
        this.irq = irq;
        this.gsi = gsi;
        counters = [new(clock), new(clock), new(clock)];

        // Counters 0 and 1 have GATE tied high; counter 2's follows port 0x61 bit 0, which is clear at reset.
        counters[2].Gate = false;
    }

    /// <summary>Counter 2's GATE input (port 0x61 bit 0).</summary>
    public bool Channel2Gate
    {
        get
        {
            lock (gate)
            {
                return counters[2].Gate;
            }
        }

        set
        {
            lock (gate)
            {
                counters[2].Gate = value;
            }
        }
    }

    /// <summary>Counter 2's OUT pin (port 0x61 bit 5).</summary>
    public bool Channel2Output
    {
        get
        {
            lock (gate)
            {
                return counters[2].Output;
            }
        }
    }

    /// <summary>When IRQ0 is next due (OUT0's next rising edge), or null when counter 0 will not raise it.</summary>
    public ulong? NextIrqNanoseconds
    {
        get
        {
            lock (gate)
            {
                return counters[0].NextOutputRiseNanoseconds();
            }
        }
    }

    /// <summary>Raises IRQ0 (an edge: a pulse on the line) if it is due; several missed periods give one pulse.</summary>
    public void Tick()
    {
        lock (gate)
        {
            ulong now = clock.Nanoseconds;
            if (counters[0].NextOutputRiseNanoseconds() is not ulong due || due > now)
            {
                return;
            }

            counters[0].TakeOutputRise(now);
        }

        irq.SetLevel(gsi, true);
        irq.SetLevel(gsi, false);
    }

    public uint Read(ushort port, int size)
    {
        lock (gate)
        {
            int index = port - Counter0;
            // The control word register is write-only; reading it floats (datasheet "Read Operations").
            return index is >= 0 and < 3 ? counters[index].ReadCount() : AccessWidth.AllOnes(size);
        }
    }

    public void Write(ushort port, int size, uint value)
    {
        lock (gate)
        {
            int index = port - Counter0;
            if (index is >= 0 and < 3)
            {
                counters[index].WriteCount((byte)value);
            }
            else if (port == ControlWord)
            {
                WriteControlWord((byte)value);
            }
        }
    }

    private void WriteControlWord(byte value)
    {
        int select = value >> 6;
        int access = (value >> 4) & 3;
        if (select == SelectReadBack)
        {
            ReadBack(value);
        }
        else if (access == AccessLatch)
        {
            counters[select].LatchCount();
        }
        else
        {
            counters[select].Program(access, (value >> 1) & 7, (value & 1) != 0);
        }
    }

    /// <summary>Read-back: bits 3:1 pick counters 0–2; bit 5 clear latches counts, bit 4 clear latches statuses.</summary>
    private void ReadBack(byte value)
    {
        for (int i = 0; i < 3; i++)
        {
            if ((value & (2 << i)) == 0)
            {
                continue;
            }

            // The status goes first so that a combined read-back returns status, then count (datasheet).
            if ((value & ReadBackLatchStatusOff) == 0)
            {
                counters[i].LatchStatus();
            }

            if ((value & ReadBackLatchCountOff) == 0)
            {
                counters[i].LatchCount();
            }
        }
    }
}
