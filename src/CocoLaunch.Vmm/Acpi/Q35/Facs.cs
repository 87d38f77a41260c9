using System.Buffers.Binary;
using System.Text;

namespace CocoLaunch.Vmm.Acpi.Q35;

/// <summary>
/// The Firmware ACPI Control Structure (ACPI 6.5 §5.2.10) as QEMU builds it (hw/i386/acpi-build.c build_facs):
/// signature and length, everything else 0. It has no standard header and no checksum.
/// </summary>
internal static class Facs
{
    public const string Signature = "FACS";
    public const int Length = 64;

    /// <summary>QEMU allocates etc/acpi/tables 64-byte aligned and puts the FACS first, which ACPI requires.</summary>
    public const int Alignment = 64;

    public static byte[] Build()
    {
        var facs = new byte[Length];
        Encoding.ASCII.GetBytes(Signature, facs);
        BinaryPrimitives.WriteUInt32LittleEndian(facs.AsSpan(SystemDescriptionTable.Length), Length);
        return facs;
    }
}
