using System.Buffers.Binary;
using System.Text;

namespace CocoLaunch.Vmm.Acpi.Q35;

/// <summary>
/// The revision-0 Root System Description Pointer QEMU 7.2 serves as etc/acpi/rsdp (ACPI 6.5 §5.2.5.3, its first 20
/// bytes; hw/acpi/aml-build.c build_rsdp): signature, checksum (served 0), OEM ID, revision 0, the RSDT's address.
/// </summary>
internal static class RsdpV1
{
    public const int Length = 20;

    public const int Signature = 0;
    public const int Checksum = 8;
    public const int OemId = 9;
    public const int Revision = 15;
    public const int RsdtAddress = 16;

    public static byte[] Build(uint rsdtOffset)
    {
        var rsdp = new byte[Length];
        Span<byte> r = rsdp;
        Encoding.ASCII.GetBytes("RSD PTR ", r[Signature..]);
        Encoding.ASCII.GetBytes(QemuTable.OemId, r[OemId..]);
        r[Revision] = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(r[RsdtAddress..], rsdtOffset);
        return rsdp;
    }
}
