using System.Buffers.Binary;

namespace CocoLaunch.Vmm.Acpi.Q35;

/// <summary>
/// The Root System Description Table (ACPI 6.5 §5.2.7): the header, then one 32-bit address per table. QEMU 7.2's
/// x86 machines build an RSDT and a revision-0 RSDP, no XSDT (hw/i386/acpi-build.c acpi_build).
/// </summary>
internal static class Rsdt
{
    public const string Signature = "RSDT";
    public const byte Revision = 1;
    public const int EntrySize = 4;

    public static int EntryOffset(int index) => SystemDescriptionTable.HeaderLength + (index * EntrySize);

    /// <param name="tableOffsets">Each table's offset in etc/acpi/tables, which the loader turns into its address.</param>
    public static byte[] Build(IReadOnlyList<uint> tableOffsets)
    {
        byte[] table = QemuTable.Create(Signature, EntryOffset(tableOffsets.Count), Revision);
        for (int i = 0; i < tableOffsets.Count; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(EntryOffset(i)), tableOffsets[i]);
        }

        return table;
    }
}
