namespace CocoLaunch.Vmm.Devices;

/// <summary>
/// The ICH9 ACPI power-management block at PMBASE (QEMU hw/acpi/ich9.c, ACPI 6.5 §4.8): PM1 event (status and enable,
/// +0), PM1 control (+4; SLP_TYP in bits 12:10, SLP_EN bit 13), the 24-bit PM timer (+8) counting at 3.579545 MHz,
/// and GPE0 (+0x20). Firmware spins on the timer for its delays, so it runs on device time, not host time.
/// </summary>
public sealed class Ich9PmPorts(IDeviceClock clock) : IPortDevice
{
    public const ushort Base = 0x600, PortCount = 0x80;
    private const int Pm1Control = 4, Timer = 8;
    private const ulong TimerHz = 3_579_545;

    /// <summary>QEMU's \_S5 sleep type on q35 (its DSDT), with SLP_EN.</summary>
    private const uint SleepEnable = 1 << 13, SleepTypeShift = 10, SleepTypeMask = 7, S5 = 0;

    private uint pm1Control;

    public bool PoweredOff { get; private set; }

    public uint Read(ushort port, int size) => (port - Base) switch
    {
        Timer => (uint)((UInt128)clock.Nanoseconds * TimerHz / 1_000_000_000) & 0xFF_FFFF,
        Pm1Control => pm1Control & ~SleepEnable,
        _ => 0,
    };

    public void Write(ushort port, int size, uint value)
    {
        if (port - Base != Pm1Control)
        {
            return;
        }

        pm1Control = value;
        if ((value & SleepEnable) != 0 && (value >> (int)SleepTypeShift & SleepTypeMask) == S5)
        {
            PoweredOff = true;
        }
    }
}
