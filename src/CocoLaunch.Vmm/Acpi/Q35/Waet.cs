using System.Buffers.Binary;

namespace CocoLaunch.Vmm.Acpi.Q35;

/// <summary>
/// Microsoft's Windows ACPI Emulated Devices Table (hw/i386/acpi-build.c build_waet): one flags word saying the ACPI
/// PM timer is good, so a guest reads it once rather than three times.
/// </summary>
internal static class Waet
{
    public const string Signature = "WAET";
    public const int Length = 40;
    public const byte Revision = 1;

    public const int EmulatedDeviceFlags = 36;

    /// <summary>ACPI_PM_TIMER_GOOD (bit 1).</summary>
    public const uint PmTimerGood = 1u << 1;

    public static byte[] Build()
    {
        byte[] table = QemuTable.Create(Signature, Length, Revision);
        BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(EmulatedDeviceFlags), PmTimerGood);
        return table;
    }
}
