using static CocoLaunch.Vmm.Acpi.Aml;
using static CocoLaunch.Vmm.Acpi.ResourceTemplate;

namespace CocoLaunch.Vmm.Acpi.Q35;

/// <summary>
/// PCI interrupt routing on q35 (hw/i386/acpi-build.c build_q35_pci0_int, build_q35_routing_table,
/// build_link_dev, build_gsi_link_dev): \_PIC records the interrupt model; _PRT returns the PIC table (links
/// LNKA-H, whose IRQ is the ICH9 PIRQx routing register) or the APIC table (GSIA-H, fixed at GSI 16-23). ICH9 wires
/// slots 0x19-0x1D and 0x1F to PIRQA-D, slot 0x1E to PIRQE-H, and every other slot to PIRQE-H rotated by slot.
/// </summary>
internal static class Q35InterruptAml
{
    private const int Slots = 32, Pins = 4;
    private const int FirstApicGsi = 16;

    /// <summary>The ISA IRQs a PIRQ link may take (_PRS), as QEMU offers them.</summary>
    private static readonly uint[] LinkIrqs = [5, 10, 11];

    /// <summary>PIRQ routing register bit 7: routing disabled (ICH9 datasheet §13.1.17).</summary>
    private const uint RoutingDisabled = 0x80;

    public static byte[] PicMode() => Concat(
        Name("PICF", Integer(0)),
        Method("_PIC", 1, false, Store(Arg(0), Path("PICF"))));

    public static byte[] RoutingAndLinks()
    {
        var terms = new List<byte[]>
        {
            Scope(
                "PCI0",
                Name("PRTP", RoutingTable("LNK")),
                Name("PRTA", RoutingTable("GSI")),
                Method("_PRT", 0, false, If(LEqual(Path("PICF"), Integer(0)), Return(Path("PRTP"))), Else(Return(Path("PRTA"))))),
            Method(
                "IQST",
                1,
                false,
                If(And(Integer(RoutingDisabled), Arg(0)), Return(Integer(0x09))),
                Return(Integer(0x0B))),
            Method(
                "IQCR",
                1,
                true,
                Name("PRR0", Buffer(Of(SharedLevelInterrupt(0)))),
                CreateDWordField(Path("PRR0"), Integer(InterruptNumberOffset), "PRRI"),
                Store(And(Arg(0), Integer(0x0F)), Path("PRRI")),
                Return(Path("PRR0"))),
        };
        for (int link = 0; link < 8; link++)
        {
            terms.Add(PirqLink(link));
        }

        for (int link = 0; link < 8; link++)
        {
            terms.Add(GsiLink(link));
        }

        return Scope("_SB", [.. terms]);
    }

    /// <summary>Where the first interrupt number lies in an extended interrupt descriptor: tag, length, flags, count.</summary>
    private const int InterruptNumberOffset = 5;

    /// <summary>Package of 128 {address, pin, link, 0}: slot in the address's high word, any function (0xFFFF).</summary>
    private static byte[] RoutingTable(string prefix)
    {
        var entries = new byte[Slots * Pins][];
        for (int slot = 0; slot < Slots; slot++)
        {
            for (int pin = 0; pin < Pins; pin++)
            {
                char link = slot switch
                {
                    >= 0x19 and <= 0x1D or 0x1F => (char)('A' + pin),
                    0x1E => (char)('E' + pin),
                    _ => (char)('E' + ((slot + pin) % Pins)),
                };
                entries[(slot * Pins) + pin] = Package(Integer(((ulong)slot << 16) | 0xFFFF), Integer((ulong)pin), Path(prefix + link), Integer(0));
            }
        }

        return Package(entries);
    }

    private static byte[] PirqLink(int link)
    {
        byte[] pirq = Path("PRQ" + (char)('A' + link));
        return Device(
            "LNK" + (char)('A' + link),
            Name("_HID", EisaId("PNP0C0F")),
            Name("_UID", Integer((ulong)link)),
            Name("_PRS", Buffer(Of(SharedLevelInterrupt(LinkIrqs)))),
            Method("_STA", 0, false, Return(Call("IQST", pirq))),
            Method("_DIS", 0, false, Or(pirq, Integer(RoutingDisabled), pirq)),
            Method("_CRS", 0, false, Return(Call("IQCR", pirq))),
            Method("_SRS", 1, false, CreateDWordField(Arg(0), Integer(InterruptNumberOffset), "PRRI"), Store(Path("PRRI"), pirq)));
    }

    private static byte[] GsiLink(int link)
    {
        uint gsi = (uint)(FirstApicGsi + link);
        byte[] resources = Buffer(Of(SharedLevelInterrupt(gsi)));
        return Device(
            "GSI" + (char)('A' + link),
            Name("_HID", EisaId("PNP0C0F")),
            Name("_UID", Integer(gsi)),
            Name("_PRS", resources),
            Name("_CRS", resources),
            Method("_DIS", 0, false),
            Method("_SRS", 1, false));
    }
}
