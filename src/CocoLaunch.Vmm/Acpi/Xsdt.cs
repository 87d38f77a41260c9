using System.Buffers.Binary;

namespace CocoLaunch.Vmm.Acpi;

/// <summary>The Extended System Description Table: the header, then one 64-bit address per table (ACPI 6.5 §5.2.8).</summary>
internal static class Xsdt
{
    public const string Signature = "XSDT";
    public const byte Revision = 1;
    public const int EntrySize = 8;

    public static int LengthFor(int entries) => SystemDescriptionTable.HeaderLength + (entries * EntrySize);

    public static byte[] Build(IReadOnlyList<ulong> tableGpas)
    {
        byte[] table = SystemDescriptionTable.Create(Signature, LengthFor(tableGpas.Count), Revision);
        for (int i = 0; i < tableGpas.Count; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(table.AsSpan(SystemDescriptionTable.HeaderLength + (i * EntrySize)), tableGpas[i]);
        }

        return SystemDescriptionTable.Seal(table);
    }
}
