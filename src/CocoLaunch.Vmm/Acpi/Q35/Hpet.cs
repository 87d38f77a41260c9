using System.Buffers.Binary;

namespace CocoLaunch.Vmm.Acpi.Q35;

/// <summary>
/// The IA-PC HPET table (Intel's HPET specification 1.0a §3.2.4) as QEMU 7.2 builds it for its one HPET
/// (hw/i386/acpi-build.c build_hpet): the event timer block ID, which repeats the low half of the HPET's
/// capabilities register (hw/timer/hpet.c), and the block's base address.
/// </summary>
internal static class Hpet
{
    public const string Signature = "HPET";
    public const int Length = 56;
    public const byte Revision = 1;

    public const int EventTimerBlockId = 36;
    public const int BaseAddress = 40;
    public const int HpetNumber = 52;
    public const int MinimumTick = 53;
    public const int PageProtection = 55;

    /// <summary>Where QEMU maps the HPET (include/hw/timer/hpet.h HPET_BASE).</summary>
    public const uint MmioBase = 0xFED0_0000;

    /// <summary>
    /// The low 32 bits of QEMU's HPET capabilities register: vendor 0x8086 in bits 31:16, LegacyReplacement route
    /// capable (bit 15), 64-bit counter (bit 13), QEMU's 3 timers as 3 − 1 in bits 12:8, revision 1.
    /// </summary>
    public const uint QemuEventTimerBlockId = 0x8086_A201;

    public static byte[] Build()
    {
        byte[] table = QemuTable.Create(Signature, Length, Revision);
        Span<byte> t = table;
        BinaryPrimitives.WriteUInt32LittleEndian(t[EventTimerBlockId..], QemuEventTimerBlockId);

        // A Generic Address Structure in system memory (space 0) with width, offset and access size left 0.
        BinaryPrimitives.WriteUInt64LittleEndian(t[(BaseAddress + 4)..], MmioBase);
        return table;
    }
}
