namespace CocoLaunch.Vmm.Devices;

/// <summary>
/// The ICH9 ACPI power-management block at PMBASE (QEMU hw/acpi/ich9.c, ACPI 6.5 §4.8): PM1 event (status and enable,
/// +0), PM1 control (+4; SLP_TYP in bits 12:10, SLP_EN bit 13), the 24-bit PM timer (+8) counting at 3.579545 MHz,
/// and GPE0 (+0x20). Firmware spins on the timer for its delays, so it runs on device time, not host time.
/// </summary>
public sealed class Ich9PmPorts(IDeviceClock clock) : IPortDevice
{
    public const ushort Base = 0x600, PortCount = 0x80;
    private const int Pm1Status = 0, Pm1Enable = 2, Pm1Control = 4, Timer = 8;
    private const ulong TimerHz = 3_579_545;

    /// <summary>QEMU's \_S5 sleep type on q35 (its DSDT), with SLP_EN.</summary>
    private const uint SleepEnable = 1 << 13, SleepTypeShift = 10, SleepTypeMask = 7, S5 = 0;

    /// <summary>PM1 control SCI_EN (ACPI 6.5 Table 4.13): the chipset is in ACPI mode and raises SCIs, not SMIs.</summary>
    public const uint SciEnable = 1;

    private uint pm1Control;

    /// <summary>
    /// PM1 enable (ACPI 6.5 §4.8.3.1.2): which fixed events may raise an SCI. Nothing here raises one (no power button,
    /// no RTC alarm, no timer overflow is signalled), but ACPICA reads the bits back after setting them and reports
    /// the event broken when they do not stick. PM1 status reads 0.
    /// </summary>
    private ushort pm1Enable;

    public bool PoweredOff { get; private set; }

    /// <summary>
    /// Enters or leaves ACPI mode: what the ICH9 does when the OS writes the FADT's ACPI_ENABLE or ACPI_DISABLE to the
    /// APM control port (QEMU hw/isa/lpc_ich9.c ich9_apm_ctrl_changed). Linux polls SCI_EN after its write.
    /// </summary>
    public void SetAcpiMode(bool enabled) => pm1Control = enabled ? pm1Control | SciEnable : pm1Control & ~SciEnable;

    public uint Read(ushort port, int size) => (port - Base) switch
    {
        Pm1Status => size == 4 ? (uint)pm1Enable << 16 : 0,
        Pm1Enable => pm1Enable,
        Timer => (uint)((UInt128)clock.Nanoseconds * TimerHz / 1_000_000_000) & 0xFF_FFFF,
        Pm1Control => pm1Control & ~SleepEnable,
        _ => 0,
    };

    public void Write(ushort port, int size, uint value)
    {
        switch (port - Base)
        {
            case Pm1Status when size == 4:
                pm1Enable = (ushort)(value >> 16);
                return;
            case Pm1Enable:
                pm1Enable = (ushort)value;
                return;
            case Pm1Control:
                break;
            default:
                return;
        }

        pm1Control = value;
        if ((value & SleepEnable) != 0 && (value >> (int)SleepTypeShift & SleepTypeMask) == S5)
        {
            PoweredOff = true;
        }
    }
}
