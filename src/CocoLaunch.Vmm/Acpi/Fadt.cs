using System.Buffers.Binary;

namespace CocoLaunch.Vmm.Acpi;

/// <summary>
/// The Fixed ACPI Description Table, revision 6.5 layout (ACPI 6.5 §5.2.9, Table 5.9), for a hardware-reduced
/// platform: no fixed PM blocks, no FACS (allowed when HW_REDUCED_ACPI is set, §5.2.10), and the sleep and reset
/// registers as single bytes in I/O space.
/// </summary>
internal static class Fadt
{
    public const string Signature = "FACP";
    public const int Length = 276;
    public const byte Revision = 6;
    public const byte MinorRevision = 5;

    public const int Dsdt = 40;
    public const int IapcBootArch = 109;
    public const int Flags = 112;
    public const int ResetReg = 116;
    public const int ResetValue = 128;
    public const int MinorVersion = 131;
    public const int XDsdt = 140;
    public const int SleepControlReg = 244;
    public const int SleepStatusReg = 256;

    // Fixed feature flags (Table 5.10). PWR_BUTTON and SLP_BUTTON set mean "no fixed-feature button".
    public const uint PwrButton = 1u << 4;
    public const uint SlpButton = 1u << 5;
    public const uint ResetRegSup = 1u << 10;
    public const uint HwReducedAcpi = 1u << 20;

    // IA-PC boot architecture flags (Table 5.11). Linux's acpi_parse_fadt (arch/x86/kernel/acpi/boot.c) takes a
    // clear 8042 bit in a revision ≥ 2 FADT as "no i8042", and VGA_NOT_PRESENT / CMOS_RTC_NOT_PRESENT as written.
    public const ushort VgaNotPresent = 1 << 2;
    public const ushort CmosRtcNotPresent = 1 << 5;

    public static byte[] Build(AcpiPlatform platform, ulong dsdtGpa)
    {
        byte[] table = SystemDescriptionTable.Create(Signature, Length, Revision);
        Span<byte> t = table;

        // The 32-bit DSDT field is only meaningful below 4 GiB; X_DSDT always holds the address.
        BinaryPrimitives.WriteUInt32LittleEndian(t[Dsdt..], dsdtGpa <= uint.MaxValue ? (uint)dsdtGpa : 0);
        BinaryPrimitives.WriteUInt64LittleEndian(t[XDsdt..], dsdtGpa);

        ushort bootArch = (ushort)(VgaNotPresent | (platform.CmosRtc ? 0 : CmosRtcNotPresent));
        BinaryPrimitives.WriteUInt16LittleEndian(t[IapcBootArch..], bootArch);
        BinaryPrimitives.WriteUInt32LittleEndian(t[Flags..], HwReducedAcpi | ResetRegSup | PwrButton | SlpButton);

        GenericAddress.WriteIoByte(t[ResetReg..], platform.PowerPort);
        t[ResetValue] = Devices.AcpiPowerPorts.ResetValue;
        t[MinorVersion] = MinorRevision;
        GenericAddress.WriteIoByte(t[SleepControlReg..], platform.PowerPort);
        GenericAddress.WriteIoByte(t[SleepStatusReg..], platform.PowerPort);
        return SystemDescriptionTable.Seal(table);
    }
}
