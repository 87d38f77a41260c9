namespace CocoLaunch.Vmm.Devices;

/// <summary>
/// The ICH9's APM ports (QEMU hw/isa/apm.c, hw/isa/lpc_ich9.c): control at 0xB2, the FADT's SMI_CMD, and a status
/// scratch byte at 0xB3. With no SMM here a control write only switches ACPI mode: ACPI_ENABLE (2) sets SCI_EN,
/// ACPI_DISABLE (3) clears it.
/// </summary>
public sealed class ApmControlPorts(Ich9PmPorts pm) : IPortDevice
{
    public const ushort Control = 0xB2, PortCount = 2;
    public const byte AcpiEnable = 2, AcpiDisable = 3;

    private byte status;

    public uint Read(ushort port, int size) => port == Control + 1 ? status : 0u;

    public void Write(ushort port, int size, uint value)
    {
        if (port == Control + 1)
        {
            status = (byte)value;
        }
        else if (value is AcpiEnable or AcpiDisable)
        {
            pm.SetAcpiMode(value == AcpiEnable);
        }
    }
}
