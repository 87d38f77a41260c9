using System.Buffers.Binary;
using System.Text;

namespace CocoLaunch.Vmm.Acpi.Q35;

/// <summary>
/// The revision-0 Root System Description Pointer QEMU 7.2 serves as etc/acpi/rsdp (ACPI 6.5 §5.2.5.3, its first 20
/// bytes; hw/acpi/aml-build.c build_rsdp): signature, checksum (served 0), OEM ID, revision 0, the RSDT's address.
/// The fields lie where they lie in the revision-2 pointer (<see cref="Rsdp"/>).
/// </summary>
internal static class RsdpV1
{
    public const int Length = Rsdp.V1Length;

    public static byte[] Build(uint rsdtOffset)
    {
        var rsdp = new byte[Length];
        Span<byte> r = rsdp;
        Encoding.ASCII.GetBytes("RSD PTR ", r[Rsdp.Signature..]);
        Encoding.ASCII.GetBytes(QemuTable.OemId, r[Rsdp.OemId..]);
        r[Rsdp.Revision] = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(r[Rsdp.RsdtAddress..], rsdtOffset);
        return rsdp;
    }
}
