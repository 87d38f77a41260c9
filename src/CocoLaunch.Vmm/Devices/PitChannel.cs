namespace CocoLaunch.Vmm.Devices;

/// <summary>
/// One counter of an Intel 8254 (datasheet 231164): programmed by a control word, loaded through the count
/// register, read directly, through the counter latch or through a read-back status. The count is derived from
/// virtual time rather than stepped, so reading it costs nothing however long the guest waits.
/// </summary>
internal sealed class PitChannel(IDeviceClock clock)
{
    public const ulong InputHz = 1_193_182;
    private const ulong NanosecondsPerSecond = 1_000_000_000;

    // Access modes (control word bits 5:4).
    private const int AccessLsb = 1;
    private const int AccessMsb = 2;
    private const int AccessWord = 3;

    // Status byte (datasheet "Read-Back Command", status format).
    private const byte StatusOutput = 0x80;
    private const byte StatusNullCount = 0x40;

    private int access = AccessWord;
    private int mode;
    private bool bcd;
    private bool writeMsbNext;
    private bool readMsbNext;
    private byte pendingLsb;
    private bool loaded;
    private bool nullCount;
    private uint reload = 0x1_0000;
    private ulong startNs;
    private ulong ticksBeforePause;
    private bool gate = true;
    private ushort? latchedCount;
    private bool latchedReadMsbNext;
    private byte? latchedStatus;

    /// <summary>Rising edges of OUT already reported through <see cref="NextOutputRiseNanoseconds"/> consumers.</summary>
    private ulong risesTaken;

    public int Mode => mode;

    public bool Gate
    {
        get => gate;
        set
        {
            if (value == gate)
            {
                return;
            }

            ulong now = clock.Nanoseconds;
            if (!value)
            {
                ticksBeforePause = ElapsedTicks(now);
            }
            else if (mode is 1 or 2 or 3 or 5)
            {
                // A rising gate (re)starts these modes from the reload value (datasheet mode descriptions). Modes 1
                // and 5 also start counting at the load, which the datasheet leaves to the first trigger.
                ticksBeforePause = 0;
                risesTaken = 0;
            }

            startNs = now;
            gate = value;
        }
    }

    /// <summary>The OUT pin now.</summary>
    public bool Output => OutputAt(ElapsedTicks(clock.Nanoseconds));

    public void Program(int accessMode, int countMode, bool binaryCodedDecimal)
    {
        access = accessMode;
        mode = countMode > 5 ? countMode - 4 : countMode; // modes 6 and 7 are modes 2 and 3
        bcd = binaryCodedDecimal;
        writeMsbNext = false;
        readMsbNext = false;
        loaded = false;
        nullCount = true;
        latchedCount = null;
        latchedStatus = null;
    }

    public void WriteCount(byte value)
    {
        switch (access)
        {
            case AccessLsb:
                Load(value);
                break;
            case AccessMsb:
                Load((uint)value << 8);
                break;
            default:
                if (!writeMsbNext)
                {
                    pendingLsb = value;
                    writeMsbNext = true;
                    if (mode == 0)
                    {
                        loaded = false; // writing the first byte stops a mode 0 count (datasheet mode 0)
                    }
                }
                else
                {
                    writeMsbNext = false;
                    Load(pendingLsb | ((uint)value << 8));
                }

                break;
        }
    }

    public byte ReadCount()
    {
        if (latchedStatus is byte status)
        {
            latchedStatus = null;
            return status;
        }

        if (latchedCount is ushort latched)
        {
            byte b = ByteOf(latched, ref latchedReadMsbNext, out bool done);
            if (done)
            {
                latchedCount = null;
            }

            return b;
        }

        return ByteOf(CurrentCount(), ref readMsbNext, out _);
    }

    /// <summary>Counter latch command: a snapshot until it has been read; a second latch before that is ignored.</summary>
    public void LatchCount()
    {
        if (latchedCount is null)
        {
            latchedCount = CurrentCount();
            latchedReadMsbNext = false;
        }
    }

    public void LatchStatus()
    {
        latchedStatus ??= (byte)((Output ? StatusOutput : 0) | (nullCount ? StatusNullCount : 0)
            | (access << 4) | (mode << 1) | (bcd ? 1 : 0));
    }

    /// <summary>When OUT next rises from low to high, for a counter whose rising edges are interrupts (counter 0).</summary>
    public ulong? NextOutputRiseNanoseconds()
    {
        if (!loaded || !gate)
        {
            return null;
        }

        ulong tick = mode switch
        {
            0 or 1 => risesTaken == 0 ? reload : ulong.MaxValue,
            2 or 3 => (risesTaken + 1) * reload,
            _ => risesTaken == 0 ? reload + 1 : ulong.MaxValue, // modes 4 and 5: one clock low at terminal count
        };
        if (tick == ulong.MaxValue)
        {
            return null;
        }

        return tick <= ticksBeforePause ? startNs : startNs + TicksToNanoseconds(tick - ticksBeforePause);
    }

    /// <summary>Marks the rise due at <paramref name="now"/> as delivered; missed periods are merged into it.</summary>
    public void TakeOutputRise(ulong now)
    {
        ulong elapsed = ElapsedTicks(now);
        risesTaken = mode is 2 or 3 ? elapsed / reload : 1;
    }

    private void Load(uint value)
    {
        // A count of 0 is the largest: 2^16 in binary (datasheet "Counter Operation").
        reload = value == 0 ? 0x1_0000u : value;
        loaded = true;
        nullCount = false;
        startNs = clock.Nanoseconds;
        ticksBeforePause = 0;
        risesTaken = 0;
    }

    private ulong ElapsedTicks(ulong now)
    {
        if (!loaded)
        {
            return 0;
        }

        ulong running = gate ? NanosecondsToTicks(now - startNs) : 0;
        return ticksBeforePause + running;
    }

    private ushort CurrentCount()
    {
        if (!loaded)
        {
            return (ushort)reload;
        }

        ulong t = ElapsedTicks(clock.Nanoseconds);
        return mode switch
        {
            2 => (ushort)(reload - (t % reload)),

            // Mode 3 decrements by two each clock through both halves of the period.
            3 => (ushort)((reload - ((2 * t) % reload)) & ~1u),
            _ => (ushort)(reload - t),
        };
    }

    private bool OutputAt(ulong t)
    {
        if (!loaded)
        {
            return mode != 0;
        }

        if (!gate && mode is 2 or 3)
        {
            return true; // a low gate forces OUT high in the periodic modes
        }

        return mode switch
        {
            0 or 1 => t >= reload,
            2 => t % reload != reload - 1,
            3 => t % reload < (reload + 1) / 2,
            _ => t != reload,
        };
    }

    private byte ByteOf(ushort value, ref bool msbNext, out bool done)
    {
        done = true;
        switch (access)
        {
            case AccessLsb:
                return (byte)value;
            case AccessMsb:
                return (byte)(value >> 8);
            default:
                bool msb = msbNext;
                msbNext = !msbNext;
                done = msb;
                return msb ? (byte)(value >> 8) : (byte)value;
        }
    }

    private static ulong NanosecondsToTicks(ulong ns) => (ulong)((UInt128)ns * InputHz / NanosecondsPerSecond);

    private static ulong TicksToNanoseconds(ulong ticks) =>
        (ulong)((((UInt128)ticks * NanosecondsPerSecond) + InputHz - 1) / InputHz);
}
