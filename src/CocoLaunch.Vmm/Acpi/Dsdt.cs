namespace CocoLaunch.Vmm.Acpi;

/// <summary>
/// The Differentiated System Description Table: \_S5 for power-off (Linux's acpi_sleep_init needs the object to
/// offer S5) and, when present, COM1 as a PNP0501 device so the 8250 PNP driver finds it, and the CMOS RTC as
/// PNP0B00 with IRQ 8. Without that device Linux registers a platform rtc_cmos whose legacy IRQ 8 has no
/// controller behind it on a hardware-reduced PC, and request_irq fails the probe with -EINVAL
/// (drivers/rtc/rtc-cmos.c); through ACPI, IRQ 8 is IOAPIC pin 8.
/// </summary>
internal static class Dsdt
{
    public const string Signature = "DSDT";

    /// <summary>Revision 2: AML integers are 64 bits wide (ACPI 6.5 §5.2.11.1).</summary>
    public const byte Revision = 2;

    /// <summary>The PC/AT RTC's ISA interrupt.</summary>
    public const int RtcIrq = 8;

    public static byte[] Build(AcpiPlatform platform)
    {
        // \_S5: SLP_TYP for SLEEP_CONTROL_REG in the first element; the rest are reserved (§7.4.2).
        byte[] aml = Aml.Name("_S5", Aml.Package(Aml.Integer(Devices.AcpiPowerPorts.S5SleepType), Aml.Integer(0), Aml.Integer(0), Aml.Integer(0)));
        if (platform.Com1)
        {
            byte[] com1 = Aml.Device(
                "COM1",
                Aml.Name("_HID", Aml.EisaId("PNP0501")),
                Aml.Name("_UID", Aml.Integer(0)),
                Aml.Name("_CRS", Aml.Buffer(ResourceTemplate.Of(
                    ResourceTemplate.Io(Devices.Uart16550.Com1, Devices.Uart16550.Com1, 0, Devices.Uart16550.PortCount),
                    ResourceTemplate.IrqNoFlags(Devices.Uart16550.Com1Gsi)))));
            aml = [.. aml, .. Aml.Scope("\\_SB", com1)];
        }

        if (platform.CmosRtc)
        {
            byte[] rtc = Aml.Device(
                "RTC_",
                Aml.Name("_HID", Aml.EisaId("PNP0B00")),
                Aml.Name("_CRS", Aml.Buffer(ResourceTemplate.Of(
                    ResourceTemplate.Io(Devices.CmosRtc.IndexPort, Devices.CmosRtc.IndexPort, 1, 2),
                    ResourceTemplate.IrqNoFlags(RtcIrq)))));
            aml = [.. aml, .. Aml.Scope("\\_SB", rtc)];
        }

        byte[] table = SystemDescriptionTable.Create(Signature, SystemDescriptionTable.HeaderLength + aml.Length, Revision);
        aml.CopyTo(table, SystemDescriptionTable.HeaderLength);
        return SystemDescriptionTable.Seal(table);
    }
}
