using static CocoLaunch.Vmm.Acpi.Aml;

namespace CocoLaunch.Vmm.Acpi.Q35;

/// <summary>
/// ACPI PCI hotplug as QEMU 7.2 builds it on q35 (hw/acpi/pcihp.c, hw/i386/acpi-build.c build_dsdt and
/// build_append_pci_bus_devices): the register block at 0xCC0 (up/down bitmaps, eject, bus select, acpi-index),
/// the lock and eject method, the _DSM for PCI device labels (acpi-index), and the GPE 1 handler that rescans.
/// </summary>
internal static class Q35PciHotplugAml
{
    /// <summary>The register block (docs/specs/acpi_pci_hotplug.rst; include/hw/acpi/pcihp.h ACPI_PCIHP_SIZE).</summary>
    public const ushort PortBase = 0x0CC0;
    public const byte PortCount = 0x18;

    private const ushort UpDownPorts = PortBase, EjectPort = PortBase + 8, BusSelectPorts = PortBase + 0x10;

    /// <summary>The PCI Firmware Specification's device-label _DSM (§4.6.7: function 7 returns the label and index).</summary>
    private const string DeviceLabelDsm = "E5C937D0-3553-4D7A-9117-EA4D19C3434D";

    /// <summary>acpi-index values 0 and 0xFFFFFFFF mean "no index" (hw/acpi/pcihp.c).</summary>
    private const uint NoIndex = 0xFFFF_FFFF;

    private const string Lock = "BLCK";

    public static byte[] Registers() => Scope(
        "_SB.PCI0",
        OperationRegion("PCST", RegionSpace.SystemIo, Integer(UpDownPorts), Integer(8)),
        Field("PCST", FieldFlags.DWordAcc | FieldFlags.WriteAsZeros, FieldUnit("PCIU", 32), FieldUnit("PCID", 32)),
        OperationRegion("SEJ", RegionSpace.SystemIo, Integer(EjectPort), Integer(4)),
        Field("SEJ", FieldFlags.DWordAcc | FieldFlags.WriteAsZeros, FieldUnit("B0EJ", 32)),
        OperationRegion("BNMR", RegionSpace.SystemIo, Integer(BusSelectPorts), Integer(8)),
        Field("BNMR", FieldFlags.DWordAcc | FieldFlags.WriteAsZeros, FieldUnit("BNUM", 32), FieldUnit("PIDX", 32)),
        Mutex(Lock, 0),
        Method(
            "PCEJ",
            2,
            false,
            Acquire(Lock, 0xFFFF),
            Store(Arg(0), Path("BNUM")),
            Store(ShiftLeft(Integer(1), Arg(1)), Path("B0EJ")),
            Release(Lock),
            Return(Integer(0))),
        Method(
            "AIDX",
            2,
            false,
            Acquire(Lock, 0xFFFF),
            Store(Arg(0), Path("BNUM")),
            Store(ShiftLeft(Integer(1), Arg(1)), Path("PIDX")),
            Store(Path("PIDX"), Local(0)),
            Release(Lock),
            Return(Local(0))),
        DeviceLabelMethod());

    /// <summary>PDSM(uuid, revision, function, args, package {bus, slot}): the body of each slot's _DSM.</summary>
    private static byte[] DeviceLabelMethod()
    {
        byte[] index = Local(2), result = Local(0);
        byte[] readIndex = Store(Call("AIDX", DerefOf(Index(Arg(4), Integer(0))), DerefOf(Index(Arg(4), Integer(1)))), index);
        return Method(
            "PDSM",
            5,
            true,
            If(
                LEqual(Arg(2), Integer(0)),
                Store(Buffer([0]), result),
                Store(Integer(0), Local(1)),
                If(LNotEqual(Arg(0), Uuid(DeviceLabelDsm)), Return(result)),
                If(LLess(Arg(1), Integer(2)), Return(result)),
                readIndex,
                If(
                    LNot(Or(LEqual(index, Integer(0)), LEqual(index, Integer(NoIndex)))),
                    Or(Local(1), Integer(1), Local(1)),
                    Or(Local(1), ShiftLeft(Integer(1), Integer(7)), Local(1))),
                Store(Local(1), Index(result, Integer(0))),
                Return(result)),
            If(
                LEqual(Arg(2), Integer(7)),
                readIndex,
                Store(EmptyPackage(2), result),
                If(
                    LNot(LOr(LEqual(index, Integer(0)), LEqual(index, Integer(NoIndex)))),
                    Store(index, Index(result, Integer(0))),
                    Store(String(string.Empty), Index(result, Integer(1)))),
                Return(result)));
    }

    /// <summary>GPE 1, the PCI hotplug event: rescan under the lock (hw/i386/acpi-build.c build_dsdt).</summary>
    public static byte[] HotplugEvent() => Scope(
        "_GPE",
        Method("_E01", 0, false, Acquire("\\_SB.PCI0." + Lock, 0xFFFF), Call("\\_SB.PCI0.PCNT"), Release("\\_SB.PCI0." + Lock)));
}
