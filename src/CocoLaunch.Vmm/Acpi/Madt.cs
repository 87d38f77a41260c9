using System.Buffers.Binary;

namespace CocoLaunch.Vmm.Acpi;

/// <summary>
/// The Multiple APIC Description Table (ACPI 6.5 §5.2.12): one enabled Processor Local APIC per CPU, one I/O APIC,
/// and LINT1 as NMI on every CPU. Flags stay 0 (no PCAT_COMPAT) because no 8259 is in use, so Linux does not probe
/// one. No interrupt source overrides: the board wires ISA IRQ n to IOAPIC pin n with ISA's default edge,
/// active-high signalling, which is what Linux assumes for IRQs 0–15 without an override (mp_config_acpi_legacy_irqs).
/// </summary>
internal static class Madt
{
    public const string Signature = "APIC";
    public const byte Revision = 5;
    public const uint LocalApicAddress = 0xFEE0_0000;

    public const int LocalInterruptControllerAddress = 36;
    public const int Flags = 40;
    public const int FirstEntry = 44;

    // Interrupt controller structure types and lengths (Table 5.21).
    public const byte ProcessorLocalApic = 0;
    public const byte IoApic = 1;
    public const byte LocalApicNmi = 4;
    public const int ProcessorLocalApicLength = 8;
    public const int IoApicLength = 12;
    public const int LocalApicNmiLength = 6;

    public const uint LocalApicEnabled = 1;

    /// <summary>ACPI Processor UID 0xFF: the NMI entry applies to all processors (Table 5.32).</summary>
    public const byte AllProcessors = 0xFF;

    public static byte[] Build(AcpiPlatform platform)
    {
        int length = FirstEntry + (platform.CpuCount * ProcessorLocalApicLength) + IoApicLength + LocalApicNmiLength;
        byte[] table = SystemDescriptionTable.Create(Signature, length, Revision);
        Span<byte> t = table;
        BinaryPrimitives.WriteUInt32LittleEndian(t[LocalInterruptControllerAddress..], LocalApicAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(t[Flags..], 0);

        int at = FirstEntry;
        for (int cpu = 0; cpu < platform.CpuCount; cpu++)
        {
            // Table 5.22: type, length, ACPI Processor UID, APIC ID, flags.
            Span<byte> e = t.Slice(at, ProcessorLocalApicLength);
            e[0] = ProcessorLocalApic;
            e[1] = ProcessorLocalApicLength;
            e[2] = (byte)cpu;
            e[3] = (byte)cpu;
            BinaryPrimitives.WriteUInt32LittleEndian(e[4..], LocalApicEnabled);
            at += ProcessorLocalApicLength;
        }

        // Table 5.24: type, length, I/O APIC ID, reserved, address, global system interrupt base.
        Span<byte> io = t.Slice(at, IoApicLength);
        io[0] = IoApic;
        io[1] = IoApicLength;
        io[2] = platform.IoApicId;
        BinaryPrimitives.WriteUInt32LittleEndian(io[4..], platform.IoApicAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(io[8..], platform.IoApicGsiBase);
        at += IoApicLength;

        // Table 5.32: type, length, ACPI Processor UID, MPS INTI flags (0: conforms to the bus), LINT#.
        Span<byte> nmi = t.Slice(at, LocalApicNmiLength);
        nmi[0] = LocalApicNmi;
        nmi[1] = LocalApicNmiLength;
        nmi[2] = AllProcessors;
        BinaryPrimitives.WriteUInt16LittleEndian(nmi[3..], 0);
        nmi[5] = 1;
        return SystemDescriptionTable.Seal(table);
    }
}
