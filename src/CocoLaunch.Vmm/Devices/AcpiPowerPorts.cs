namespace CocoLaunch.Vmm.Devices;

/// <summary>
/// The hardware-reduced ACPI sleep and reset registers, all one byte at I/O 0x600 as cloud-hypervisor places them
/// (the FADT's SLEEP_CONTROL_REG, SLEEP_STATUS_REG and RESET_REG point here). Linux's acpi_hw_extended_sleep
/// (drivers/acpi/acpica/hwesleep.c) writes ((SLP_TYP &lt;&lt; 2) &amp; 0x1C) | SLP_EN, so S5 with SLP_TYP 5 is 0x34;
/// acpi_reset writes the FADT's reset value.
/// </summary>
public sealed class AcpiPowerPorts : IPortDevice
{
    public const ushort Port = 0x600;

    /// <summary>The FADT RESET_VALUE this device answers to.</summary>
    public const byte ResetValue = 1;

    /// <summary>SLP_TYP of \_S5 in the DSDT.</summary>
    public const byte S5SleepType = 5;

    // Sleep control register (ACPI 6.5 §4.8.3.7).
    private const byte SleepEnable = 0x20;
    private const int SleepTypeShift = 2;
    private const byte SleepTypeMask = 0x1C;

    public bool PoweredOff { get; private set; }

    public bool ResetRequested { get; private set; }

    /// <summary>SLEEP_STATUS: WAK_STS never sets, since nothing sleeps and wakes here.</summary>
    public uint Read(ushort port, int size) => 0;

    public void Write(ushort port, int size, uint value)
    {
        byte b = (byte)value;
        if (b == ResetValue)
        {
            ResetRequested = true;
        }
        else if ((b & SleepEnable) != 0 && (b & SleepTypeMask) >> SleepTypeShift == S5SleepType)
        {
            PoweredOff = true;
        }
    }
}
