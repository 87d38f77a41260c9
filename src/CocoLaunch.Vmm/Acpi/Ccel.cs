using System.Buffers.Binary;

namespace CocoLaunch.Vmm.Acpi;

/// <summary>
/// Where a confidential guest's firmware keeps its event log: the log area the CC Event Log ACPI table points at.
/// </summary>
/// <param name="CcType">The confidential computing type (<see cref="Tdx"/>).</param>
/// <param name="LogAreaMinimumLength">LAML: the bytes reserved for the log.</param>
/// <param name="LogAreaStartAddress">LASA: the log's guest-physical address.</param>
public sealed record CcEventLog(byte CcType, ulong LogAreaMinimumLength, ulong LogAreaStartAddress)
{
    public const byte Tdx = 2;
}

/// <summary>
/// The CC Event Log table (ACPI 6.5 §5.2.34, tdx-mrtd.md §6.2): 56 bytes that point Linux at the firmware's TCG
/// crypto-agile log, which it shows as <c>/sys/firmware/acpi/tables/data/CCEL</c>.
/// </summary>
internal static class Ccel
{
    public const string Signature = "CCEL";
    public const byte Revision = 1;
    public const int Length = 56;

    public const int CcType = 36;
    public const int CcSubtype = 37;
    public const int Laml = 40;
    public const int Lasa = 48;

    public static byte[] Build(CcEventLog log)
    {
        byte[] table = SystemDescriptionTable.Create(Signature, Length, Revision);
        table[CcType] = log.CcType;
        BinaryPrimitives.WriteUInt64LittleEndian(table.AsSpan(Laml), log.LogAreaMinimumLength);
        BinaryPrimitives.WriteUInt64LittleEndian(table.AsSpan(Lasa), log.LogAreaStartAddress);
        return SystemDescriptionTable.Seal(table);
    }
}
