using static CocoLaunch.Vmm.Acpi.Aml;
using static CocoLaunch.Vmm.Acpi.ResourceTemplate;

namespace CocoLaunch.Vmm.Acpi.Q35;

/// <summary>
/// The q35 PCI Express host bridge \_SB.PCI0 (hw/i386/acpi-build.c build_dsdt, build_q35_osc_method): its IDs and
/// _OSC, the reservation of the ECAM window (DRAC), and, later in the table, its _CRS: bus numbers, the I/O ports
/// around the config ports, the VGA window, the 32-bit window from the end of low RAM to the IOAPIC minus the ECAM
/// window, and the 64-bit window above RAM.
/// </summary>
internal static class Q35HostBridgeAml
{
    /// <summary>The PCI Host Bridge _OSC UUID (PCI Firmware Specification 3.2 §4.5.1).</summary>
    private const string PciHostBridgeOsc = "33DB4D5B-1FF7-401C-9657-7441C03DD766";

    /// <summary>
    /// The _OSC control bits QEMU grants (Control field, §4.5.1): all but native PCIe hotplug (bit 0), which ACPI
    /// hotplug keeps: SHPC hotplug, PME, AER and PCIe capability structure control.
    /// </summary>
    private const uint GrantedControls = 0x1E;

    // _OSC status bits in the first capabilities DWORD.
    private const uint UnrecognizedUuid = 1 << 2, UnrecognizedRevision = 1 << 3, CapabilitiesMasked = 1 << 4;

    /// <summary>QEMU's 32-bit window ends below the IOAPIC (include/hw/intc/ioapic.h IO_APIC_DEFAULT_ADDRESS).</summary>
    private const uint PciHoleEnd = 0xFEBF_FFFF;

    /// <summary>The default size of q35's 64-bit window (include/hw/pci-host/q35.h Q35_PCI_HOST_HOLE64_SIZE_DEFAULT).</summary>
    private const ulong PciHole64Size = 32UL << 30;

    public static byte[] Device(Q35MachineShape shape) => Scope(
        "_SB",
        Aml.Device(
            "PCI0",
            Name("_HID", EisaId("PNP0A08")),
            Name("_CID", EisaId("PNP0A03")),
            Name("_ADR", Integer(0)),
            Name("_UID", Integer(0)),
            Osc()),
        Aml.Device(
            "DRAC",
            Name("_HID", String("PNP0C01")),
            Name("_CRS", Buffer(Of(DWordRange(AddressSpace.Memory, ReadWrite, shape.EcamBase, shape.EcamBase + Q35MachineShape.EcamSize - 1))))));

    private static byte[] Osc()
    {
        byte[] cdw1 = Path("CDW1"), cdw3 = Path("CDW3");
        return Method(
            "_OSC",
            4,
            false,
            CreateDWordField(Arg(3), Integer(0), "CDW1"),
            If(
                LEqual(Arg(0), Uuid(PciHostBridgeOsc)),
                CreateDWordField(Arg(3), Integer(4), "CDW2"),
                CreateDWordField(Arg(3), Integer(8), "CDW3"),
                Store(cdw3, Local(0)),
                And(Local(0), Integer(GrantedControls), Local(0)),
                If(LNotEqual(Arg(1), Integer(1)), Or(cdw1, Integer(UnrecognizedRevision), cdw1)),
                If(LNotEqual(cdw3, Local(0)), Or(cdw1, Integer(CapabilitiesMasked), cdw1)),
                Store(Local(0), cdw3)),
            Else(Or(cdw1, Integer(UnrecognizedUuid), cdw1)),
            Return(Arg(3)));
    }

    /// <summary>
    /// \_SB.PCI0's _CRS and the two resource holders after it: GPE0 (the ICH9 GPE0 block) and PHPR (the ACPI PCI
    /// hotplug registers), both _STA 0x0B so an OS reserves their ports but lists no device.
    /// </summary>
    public static byte[] Resources(Q35MachineShape shape)
    {
        uint ecamEnd = shape.EcamBase + Q35MachineShape.EcamSize;
        uint holeStart = (uint)shape.RamBelow4G;
        var windows = new List<byte[]>
        {
            WordRange(AddressSpace.BusNumber, 0, 0, 0xFF),
            Io(Devices.Q35Pci.ConfigAddress, Devices.Q35Pci.ConfigAddress, 1, 8),
            WordRange(AddressSpace.Io, EntireRange, 0, Devices.Q35Pci.ConfigAddress - 1),
            WordRange(AddressSpace.Io, EntireRange, 0x0D00, 0xFFFF),
            DWordRange(AddressSpace.Memory, Cacheable | ReadWrite, 0xA_0000, 0xB_FFFF),
        };

        // The 32-bit hole minus the ECAM window (build_dsdt reserves MCFG's range out of it).
        if (holeStart < shape.EcamBase)
        {
            windows.Add(DWordRange(AddressSpace.Memory, ReadWrite, holeStart, shape.EcamBase - 1));
        }

        windows.Add(DWordRange(AddressSpace.Memory, ReadWrite, Math.Max(holeStart, ecamEnd), PciHoleEnd));

        // The 64-bit window starts at the first gigabyte boundary above RAM (hw/i386/pc.c pc_pci_hole64_start).
        ulong hole64Start = (Q35MachineShape.FourGiB + shape.RamAbove4G + (1UL << 30) - 1) & ~((1UL << 30) - 1);
        windows.Add(QWordRange(AddressSpace.Memory, Cacheable | ReadWrite, hole64Start, hole64Start + PciHole64Size - 1));

        return Scope(
            "\\_SB.PCI0",
            Name("_CRS", Buffer(Of([.. windows]))),
            ResourceHolder("GPE0", "GPE0 resources", Q35Fadt.Gpe0, Q35Fadt.Gpe0Length),
            ResourceHolder("PHPR", "PCI Hotplug resources", Q35PciHotplugAml.PortBase, Q35PciHotplugAml.PortCount));
    }

    private static byte[] ResourceHolder(string name, string uid, ushort port, byte length) => Aml.Device(
        name,
        Name("_HID", String("PNP0A06")),
        Name("_UID", String(uid)),
        Name("_STA", Integer(0x0B)),
        Name("_CRS", Buffer(Of(Io(port, port, 1, length)))));
}
