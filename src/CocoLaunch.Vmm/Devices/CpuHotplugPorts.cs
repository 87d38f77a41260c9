namespace CocoLaunch.Vmm.Devices;

/// <summary>
/// QEMU's CPU hotplug register block as the q35 DSDT's \_SB.PCI0.PRES reads it (QEMU docs/specs/acpi_cpu_hotplug.rst,
/// hw/acpi/cpu.c), for a fixed set of CPUs: the OS selects a CPU by writing its index to the DWORD at +0, and the
/// status byte at +4 says whether it is enabled (bit 0). No CPU is ever inserted or removed, so no event bits are set;
/// the command (+5) and data (+8) registers read 0 and ignore writes, which ends the DSDT's scan at once.
/// </summary>
public sealed class CpuHotplugPorts(int cpus) : IPortDevice
{
    public const ushort Base = 0x0CD8, PortCount = 0x0C;
    private const int Selector = 0, Status = 4;
    private const uint Enabled = 1;

    private uint selected;

    public uint Read(ushort port, int size) => (port - Base) switch
    {
        Selector => selected,
        Status => selected < (uint)cpus ? Enabled : 0,
        _ => 0,
    };

    public void Write(ushort port, int size, uint value)
    {
        if (port - Base == Selector && size == 4)
        {
            selected = value;
        }
    }
}
