using System.Buffers.Binary;
using System.Text;

namespace CocoLaunch.Vmm.Acpi;

/// <summary>
/// The Root System Description Pointer, revision 2 (ACPI 6.5 §5.2.5.3, Table 5.3): the first checksum covers the
/// ACPI 1.0 part (20 bytes), the extended checksum all 36. There is no RSDT; the XSDT is the root.
/// </summary>
internal static class Rsdp
{
    public const int Length = 36;
    public const int V1Length = 20;

    public const int Signature = 0;
    public const int Checksum = 8;
    public const int OemId = 9;
    public const int Revision = 15;
    public const int RsdtAddress = 16;
    public const int LengthField = 20;
    public const int XsdtAddress = 24;
    public const int ExtendedChecksum = 32;

    public static byte[] Build(ulong xsdtGpa)
    {
        var rsdp = new byte[Length];
        Span<byte> r = rsdp;
        Encoding.ASCII.GetBytes("RSD PTR ", r[Signature..]);
        Encoding.ASCII.GetBytes(SystemDescriptionTable.Oem, r[OemId..]);
        r[Revision] = 2;
        BinaryPrimitives.WriteUInt32LittleEndian(r[LengthField..], Length);
        BinaryPrimitives.WriteUInt64LittleEndian(r[XsdtAddress..], xsdtGpa);
        AcpiChecksum.Fill(r[..V1Length], Checksum);
        AcpiChecksum.Fill(r, ExtendedChecksum);
        return rsdp;
    }
}
