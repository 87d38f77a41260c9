using static CocoLaunch.Vmm.Acpi.Aml;
using static CocoLaunch.Vmm.Acpi.ResourceTemplate;

namespace CocoLaunch.Vmm.Acpi.Q35;

/// <summary>
/// What the ICH9 LPC bridge adds to its device (hw/isa/lpc_ich9.c build_ich9_isa_aml and the ISA devices' own AML,
/// in the order QEMU creates them): the PIRQA-H routing registers at config offsets 0x60 and 0x68 as \_SB fields
/// the interrupt links read, then the i8042's keyboard and mouse, the parallel port, COM1 and the RTC.
/// </summary>
internal static class Q35LpcAml
{
    private const int PirqRouting = 0x60, PirqRoutingLength = 0x0C;

    public static byte[] Build() => Concat(
        OperationRegion("PIRQ", RegionSpace.PciConfig, Integer(PirqRouting), Integer(PirqRoutingLength)),
        Scope(
            "\\_SB",
            Field(
                "PCI0.SF8.PIRQ",
                FieldFlags.ByteAcc,
                FieldUnit("PRQA", 8),
                FieldUnit("PRQB", 8),
                FieldUnit("PRQC", 8),
                FieldUnit("PRQD", 8),
                FieldSkip(32),
                FieldUnit("PRQE", 8),
                FieldUnit("PRQF", 8),
                FieldUnit("PRQG", 8),
                FieldUnit("PRQH", 8))),
        IsaDevice("KBD", "PNP0303", null, Of(Io(0x60, 0x60, 1, 1), Io(0x64, 0x64, 1, 1), IrqNoFlags(1))),
        IsaDevice("MOU", "PNP0F13", null, Of(IrqNoFlags(12))),
        IsaDevice("LPT1", "PNP0400", 1, Of(Io(0x378, 0x378, 8, 8), IrqNoFlags(7))),
        IsaDevice("COM1", "PNP0501", 1, Of(Io(Devices.Uart16550.Com1, Devices.Uart16550.Com1, 0, 8), IrqNoFlags(Devices.Uart16550.Com1Gsi))),
        Device("RTC", Name("_HID", EisaId("PNP0B00")), Name("_CRS", Buffer(Of(Io(Devices.CmosRtc.IndexPort, Devices.CmosRtc.IndexPort, 1, 8), IrqNoFlags(8))))));

    /// <summary>An ISA device that is always present (_STA 0x0F), with its resources.</summary>
    private static byte[] IsaDevice(string name, string hid, int? uid, byte[] resources) => Device(
        name,
        [
            Name("_HID", EisaId(hid)),
            .. uid is { } u ? [Name("_UID", Integer((ulong)u))] : Array.Empty<byte[]>(),
            Name("_STA", Integer(0x0F)),
            Name("_CRS", Buffer(resources)),
        ]);
}
