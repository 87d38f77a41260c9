using static CocoLaunch.Vmm.Acpi.Aml;

namespace CocoLaunch.Vmm.Acpi.Q35;

/// <summary>
/// The DSDT QEMU 7.2 builds for q35 with ICH9 (hw/i386/acpi-build.c build_dsdt), term for term in its order: the
/// debug port method, the PCI Express host bridge, ACPI PCI hotplug, the interrupt links, the HPET, the GPE block,
/// CPU hotplug, the host bridge's windows, the sleep states, fw_cfg, the devices on bus 0 (the LPC bridge with its
/// ISA devices) and the hotplug GPE. Revision 1: QEMU's AML uses 32-bit integers only.
/// </summary>
internal static class Q35Dsdt
{
    public const string Signature = "DSDT";
    public const byte Revision = 1;

    public static byte[] Build(Q35MachineShape shape)
    {
        byte[] aml = Concat(
            DebugPort(),
            Q35HostBridgeAml.Device(shape),
            Q35PciHotplugAml.Registers(),
            Q35InterruptAml.PicMode(),
            Q35InterruptAml.RoutingAndLinks(),
            HpetDevice(),
            Scope("_GPE", Name("_HID", String("ACPI0006"))),
            Q35CpuHotplugAml.Build(shape.Cpus),
            Q35HostBridgeAml.Resources(shape),
            SleepStates(),
            FwCfgDevice(),
            Q35Bus0Aml.Build(),
            Q35PciHotplugAml.HotplugEvent());
        byte[] table = QemuTable.Create(Signature, SystemDescriptionTable.HeaderLength + aml.Length, Revision);
        aml.CopyTo(table, SystemDescriptionTable.HeaderLength);
        return table;
    }

    /// <summary>\DBUG: prints its argument in hex to QEMU's debug exit port 0x402 (hw/i386/acpi-build.c build_dbg_aml).</summary>
    private static byte[] DebugPort() => Scope(
        "\\",
        OperationRegion("DBG", RegionSpace.SystemIo, Integer(0x402), Integer(1)),
        Field("DBG", FieldFlags.ByteAcc, FieldUnit("DBGB", 8)),
        Method(
            "DBUG",
            1,
            false,
            ToHexString(Arg(0), Local(0)),
            ToBuffer(Local(0), Local(0)),
            Subtract(SizeOf(Local(0)), Integer(1), Local(1)),
            Store(Integer(0), Local(2)),
            While(LLess(Local(2), Local(1)), Store(DerefOf(Index(Local(0), Local(2))), Path("DBGB")), Increment(Local(2))),
            Store(Integer(0x0A), Path("DBGB"))));

    /// <summary>
    /// The HPET at 0xFED00000 (hw/i386/acpi-build.c build_hpet_aml): present (_STA 0x0F) only when the block's
    /// vendor ID is neither 0 nor 0xFFFF and its period is nonzero and at most 100 ns (in femtoseconds, 10^8).
    /// </summary>
    private static byte[] HpetDevice()
    {
        const uint MaxPeriodFs = 100_000_000;
        return Scope(
            "_SB",
            Device(
                "HPET",
                Name("_HID", EisaId("PNP0103")),
                Name("_UID", Integer(0)),
                OperationRegion("HPTM", RegionSpace.SystemMemory, Integer(Hpet.MmioBase), Integer(HpetMmioLength)),
                Field("HPTM", FieldFlags.DWordAcc | FieldFlags.Lock, FieldUnit("VEND", 32), FieldUnit("PRD", 32)),
                Method(
                    "_STA",
                    0,
                    false,
                    Store(Path("VEND"), Local(0)),
                    Store(Path("PRD"), Local(1)),
                    ShiftRight(Local(0), Integer(16), Local(0)),
                    If(LOr(LEqual(Local(0), Integer(0)), LEqual(Local(0), Integer(0xFFFF))), Return(Integer(0))),
                    If(LOr(LEqual(Local(1), Integer(0)), LGreater(Local(1), Integer(MaxPeriodFs))), Return(Integer(0))),
                    Return(Integer(0x0F))),
                Name("_CRS", Buffer(ResourceTemplate.Of(ResourceTemplate.Memory32Fixed(false, Hpet.MmioBase, HpetMmioLength))))));
    }

    /// <summary>The HPET's MMIO block (include/hw/timer/hpet.h HPET_LEN).</summary>
    private const uint HpetMmioLength = 0x400;

    /// <summary>
    /// \_S3, \_S4 and \_S5 with the ICH9 PM1 control SLP_TYP values QEMU implements (hw/acpi/core.c
    /// acpi_pm1_cnt_write); the S3 and S4 objects are there unless disabled on the command line.
    /// </summary>
    private static byte[] SleepStates() => Scope(
        "\\",
        Name("_S3", Package(Integer(1), Integer(1), Integer(0), Integer(0))),
        Name("_S4", Package(Integer(2), Integer(2), Integer(0), Integer(0))),
        Name("_S5", Package(Integer(0), Integer(0), Integer(0), Integer(0))));

    /// <summary>
    /// QEMU's fw_cfg device (QEMU0002, hw/i386/acpi-build.c build_dsdt), over its selector and data ports and the DMA
    /// address register, so an OS leaves the ports alone.
    /// </summary>
    private static byte[] FwCfgDevice() => Scope(
        "\\_SB.PCI0",
        Device(
            "FWCF",
            Name("_HID", String("QEMU0002")),
            Name("_STA", Integer(0x0B)),
            Name("_CRS", Buffer(ResourceTemplate.Of(ResourceTemplate.Io(Devices.FwCfg.SelectorPort, Devices.FwCfg.SelectorPort, 1, (byte)Devices.FwCfg.PortCount))))));
}
