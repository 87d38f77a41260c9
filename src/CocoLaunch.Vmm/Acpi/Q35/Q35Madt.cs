using System.Buffers.Binary;

namespace CocoLaunch.Vmm.Acpi.Q35;

/// <summary>
/// The revision-1 MADT QEMU 7.2 builds for a PC (hw/i386/acpi-common.c acpi_build_madt): PCAT_COMPAT (the 8259s are
/// there), one local APIC per CPU, the IOAPIC at 0xFEC00000 from GSI 0, ISA IRQ 0 routed to GSI 2 (the PIT on the
/// IOAPIC's pin 2), the PCI link IRQs 5, 9, 10 and 11 as level-triggered active-high, and LINT1 as NMI on all CPUs.
/// </summary>
internal static class Q35Madt
{
    public const string Signature = "APIC";
    public const byte Revision = 1;

    public const int LocalApicAddress = 36;
    public const int Flags = 40;
    public const int FirstEntry = 44;

    public const uint LocalApicBase = 0xFEE0_0000, IoApicBase = 0xFEC0_0000;
    public const uint PcatCompat = 1;

    private const byte LocalApicType = 0, IoApicType = 1, SourceOverrideType = 2, LocalApicNmiType = 4;
    private const int LocalApicLength = 8, IoApicLength = 12, SourceOverrideLength = 10, LocalApicNmiLength = 6;

    /// <summary>MPS INTI flags (Table 5.26): polarity active-high (1), trigger level (3 in bits 3:2).</summary>
    private const ushort LevelActiveHigh = 0x000D;

    /// <summary>The ISA IRQs QEMU marks level-triggered: those its PCI interrupt links can take (hw/i386/acpi-common.c).</summary>
    private static readonly byte[] PciLinkIrqs = [5, 9, 10, 11];

    public static byte[] Build(int cpus)
    {
        int length = FirstEntry + (cpus * LocalApicLength) + IoApicLength + ((1 + PciLinkIrqs.Length) * SourceOverrideLength) + LocalApicNmiLength;
        byte[] table = QemuTable.Create(Signature, length, Revision);
        Span<byte> t = table;
        BinaryPrimitives.WriteUInt32LittleEndian(t[LocalApicAddress..], LocalApicBase);
        BinaryPrimitives.WriteUInt32LittleEndian(t[Flags..], PcatCompat);
        int at = FirstEntry;
        for (int cpu = 0; cpu < cpus; cpu++)
        {
            // Type, length, ACPI processor UID, APIC ID, flags (enabled).
            Span<byte> e = t.Slice(at, LocalApicLength);
            e[0] = LocalApicType;
            e[1] = LocalApicLength;
            e[2] = (byte)cpu;
            e[3] = (byte)cpu;
            BinaryPrimitives.WriteUInt32LittleEndian(e[4..], 1);
            at += LocalApicLength;
        }

        Span<byte> io = t.Slice(at, IoApicLength);
        io[0] = IoApicType;
        io[1] = IoApicLength;
        BinaryPrimitives.WriteUInt32LittleEndian(io[4..], IoApicBase);
        at += IoApicLength;

        at += SourceOverride(t[at..], 0, 2, 0);
        foreach (byte irq in PciLinkIrqs)
        {
            at += SourceOverride(t[at..], irq, irq, LevelActiveHigh);
        }

        // Type, length, ACPI processor UID 0xFF (all), flags 0, LINT1.
        Span<byte> nmi = t.Slice(at, LocalApicNmiLength);
        nmi[0] = LocalApicNmiType;
        nmi[1] = LocalApicNmiLength;
        nmi[2] = 0xFF;
        nmi[5] = 1;
        return table;
    }

    /// <summary>Type, length, bus 0 (ISA), source IRQ, GSI, flags.</summary>
    private static int SourceOverride(Span<byte> e, byte irq, uint gsi, ushort flags)
    {
        e[0] = SourceOverrideType;
        e[1] = SourceOverrideLength;
        e[3] = irq;
        BinaryPrimitives.WriteUInt32LittleEndian(e[4..], gsi);
        BinaryPrimitives.WriteUInt16LittleEndian(e[8..], flags);
        return SourceOverrideLength;
    }
}
