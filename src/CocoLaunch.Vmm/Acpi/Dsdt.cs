namespace CocoLaunch.Vmm.Acpi;

/// <summary>
/// The Differentiated System Description Table: \_S5 for power-off (Linux's acpi_sleep_init needs the object to
/// offer S5) and, when present, COM1 as a PNP0501 device so the 8250 PNP driver finds it.
/// </summary>
internal static class Dsdt
{
    public const string Signature = "DSDT";

    /// <summary>Revision 2: AML integers are 64 bits wide (ACPI 6.5 §5.2.11.1).</summary>
    public const byte Revision = 2;

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

        byte[] table = SystemDescriptionTable.Create(Signature, SystemDescriptionTable.HeaderLength + aml.Length, Revision);
        aml.CopyTo(table, SystemDescriptionTable.HeaderLength);
        return SystemDescriptionTable.Seal(table);
    }
}
