namespace CocoLaunch.Vmm.Devices;

/// <summary>
/// The PC/AT real-time clock and CMOS RAM (Motorola MC146818A datasheet) at 0x70 (index, bit 7 = NMI disable) and
/// 0x71 (data). The time runs on virtual time from a start instant, in UTC; updates are instantaneous, so UIP never
/// reads set and Linux's mc146818_get_time (drivers/rtc/rtc-mc146818-lib.c) never waits. Alarms, periodic and
/// update interrupts are not modelled: register C always reads no flags.
/// </summary>
public sealed class CmosRtc : IPortDevice
{
    public const ushort IndexPort = 0x70;
    public const ushort DataPort = 0x71;

    // Register map (datasheet "Address Map"; the century byte is the IBM PC/AT convention Linux reads via FADT).
    private const int Seconds = 0x00;
    private const int Minutes = 0x02;
    private const int Hours = 0x04;
    private const int DayOfWeek = 0x06;
    private const int DayOfMonth = 0x07;
    private const int Month = 0x08;
    private const int Year = 0x09;
    private const int RegisterA = 0x0A;
    private const int RegisterB = 0x0B;
    private const int RegisterC = 0x0C;
    private const int RegisterD = 0x0D;
    public const int Century = 0x32;

    private const byte NmiDisable = 0x80;
    private const byte AUpdateInProgress = 0x80;
    private const byte BSet = 0x80;
    private const byte BBinary = 0x04;
    private const byte B24Hour = 0x02;
    private const byte DValidRamAndTime = 0x80;
    private const byte HourPm = 0x80;

    // Divider 010 (32.768 kHz time base) and rate 0110 (1024 Hz), what a BIOS leaves.
    private const byte ADefault = 0x26;

    private readonly IDeviceClock clock;
    private readonly byte[] ram = new byte[128];
    private readonly Lock gate = new();
    private DateTime epoch;
    private ulong epochNs;
    private int index;

    public CmosRtc(DateTimeOffset start, IDeviceClock clock)
    {
        ArgumentNullException.ThrowIfNull(clock);
        this.clock = clock;
        epoch = start.UtcDateTime;
        epochNs = clock.Nanoseconds;
        ram[RegisterA] = ADefault;
        ram[RegisterB] = B24Hour;
    }

    /// <summary>
    /// A byte of CMOS RAM outside the clock registers, as a board sets it before the guest runs (QEMU pc_cmos_init:
    /// memory sizes at 0x15-0x18, 0x30-0x31, 0x34-0x35 and 0x5b-0x5d, the CPU count at 0x5f).
    /// </summary>
    public void SetNvram(int register, byte value)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(register, RegisterD + 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(register, ram.Length);
        lock (gate)
        {
            ram[register] = value;
        }
    }

    /// <summary>Port 0x70 bit 7: the guest masked NMIs.</summary>
    public bool NmiDisabled { get; private set; }

    /// <summary>The clock's time now, in UTC.</summary>
    public DateTime Now
    {
        get
        {
            lock (gate)
            {
                return CurrentTime();
            }
        }
    }

    public uint Read(ushort port, int size)
    {
        lock (gate)
        {
            // The index register is write-only; QEMU and real chipsets float it.
            return port == DataPort ? ReadRegister(index) : AccessWidth.AllOnes(size);
        }
    }

    public void Write(ushort port, int size, uint value)
    {
        lock (gate)
        {
            if (port == IndexPort)
            {
                index = (int)value & 0x7F;
                NmiDisabled = (value & NmiDisable) != 0;
            }
            else if (port == DataPort)
            {
                WriteRegister(index, (byte)value);
            }
        }
    }

    private bool Binary => (ram[RegisterB] & BBinary) != 0;

    private DateTime CurrentTime()
    {
        // While SET is held the guest is loading a new time and the clock stands still.
        if ((ram[RegisterB] & BSet) != 0)
        {
            return epoch;
        }

        ulong elapsed = clock.Nanoseconds - epochNs;
        return epoch.AddTicks((long)(elapsed / 100));
    }

    private byte ReadRegister(int register)
    {
        DateTime now = CurrentTime();
        return register switch
        {
            Seconds => Encode(now.Second),
            Minutes => Encode(now.Minute),
            Hours => EncodeHour(now.Hour),
            DayOfWeek => Encode((int)now.DayOfWeek + 1),
            DayOfMonth => Encode(now.Day),
            Month => Encode(now.Month),
            Year => Encode(now.Year % 100),
            Century => Encode(now.Year / 100),
            RegisterA => (byte)(ram[RegisterA] & ~AUpdateInProgress),
            RegisterC => 0,
            RegisterD => DValidRamAndTime,
            _ => ram[register],
        };
    }

    private void WriteRegister(int register, byte value)
    {
        switch (register)
        {
            case Seconds or Minutes or Hours or DayOfMonth or Month or Year or Century:
                SetField(register, value);
                break;
            case DayOfWeek:
                break; // derived from the date here
            case RegisterA:
                ram[RegisterA] = (byte)(value & ~AUpdateInProgress);
                break;
            case RegisterB:
                WriteRegisterB(value);
                break;
            case RegisterC or RegisterD:
                break; // read-only
            default:
                ram[register] = value;
                break;
        }
    }

    private void WriteRegisterB(byte value)
    {
        DateTime now = CurrentTime();
        ram[RegisterB] = value;

        // Freezing or releasing SET keeps the time shown; releasing it restarts the count from there.
        epoch = now;
        epochNs = clock.Nanoseconds;
    }

    /// <summary>A guest setting one field: the others keep their current values; an impossible date is ignored.</summary>
    private void SetField(int register, byte value)
    {
        DateTime now = CurrentTime();
        int second = now.Second, minute = now.Minute, hour = now.Hour, day = now.Day, month = now.Month, year = now.Year;
        switch (register)
        {
            case Seconds: second = Decode(value); break;
            case Minutes: minute = Decode(value); break;
            case Hours: hour = DecodeHour(value); break;
            case DayOfMonth: day = Decode(value); break;
            case Month: month = Decode(value); break;
            case Year: year = (year / 100 * 100) + Decode(value); break;
            default: year = (Decode(value) * 100) + (year % 100); break;
        }

        if (year is < 1 or > 9999 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month)
            || hour is < 0 or > 23 || minute is < 0 or > 59 || second is < 0 or > 59)
        {
            return;
        }

        epoch = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Utc).AddTicks(now.Ticks % TimeSpan.TicksPerSecond);
        epochNs = clock.Nanoseconds;
    }

    private byte Encode(int value) => Binary ? (byte)value : (byte)(((value / 10) << 4) | (value % 10));

    private int Decode(byte value) => Binary ? value : ((value >> 4) * 10) + (value & 0x0F);

    /// <summary>In 12-hour mode hours run 1–12 with bit 7 for PM (datasheet "Hours").</summary>
    private byte EncodeHour(int hour)
    {
        if ((ram[RegisterB] & B24Hour) != 0)
        {
            return Encode(hour);
        }

        int twelve = hour % 12 == 0 ? 12 : hour % 12;
        return (byte)(Encode(twelve) | (hour >= 12 ? HourPm : 0));
    }

    private int DecodeHour(byte value)
    {
        if ((ram[RegisterB] & B24Hour) != 0)
        {
            return Decode(value);
        }

        int twelve = Decode((byte)(value & ~HourPm)) % 12;
        return (value & HourPm) != 0 ? twelve + 12 : twelve;
    }
}
