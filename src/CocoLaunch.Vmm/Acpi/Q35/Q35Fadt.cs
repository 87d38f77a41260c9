using System.Buffers.Binary;

namespace CocoLaunch.Vmm.Acpi.Q35;

/// <summary>
/// The revision-3 FADT QEMU 7.2 builds for q35 (hw/acpi/aml-build.c build_fadt with the ICH9 values of
/// hw/i386/acpi-build.c acpi_get_pm_info and hw/isa/lpc_ich9.c): the ICH9 PM block at 0x600 (PM1a event, PM1a
/// control, PM timer, GPE0), SCI on IRQ 9, the APM port 0xB2 for ACPI enable/disable, reset through 0xCF9, an 8042.
/// The FACS and DSDT fields are offsets in etc/acpi/tables that the table-loader relocates.
/// </summary>
internal static class Q35Fadt
{
    public const string Signature = "FACP";
    public const int Length = 244;
    public const byte Revision = 3;

    public const int FirmwareCtrl = 36;
    public const int Dsdt = 40;
    public const int InterruptModel = 44;
    public const int SciInt = 46;
    public const int SmiCmd = 48;
    public const int AcpiEnable = 52;
    public const int AcpiDisable = 53;
    public const int Pm1aEventBlock = 56;
    public const int Pm1aControlBlock = 64;
    public const int PmTimerBlock = 76;
    public const int Gpe0Block = 80;
    public const int Pm1EventLength = 88;
    public const int Pm1ControlLength = 89;
    public const int PmTimerLength = 91;
    public const int Gpe0BlockLength = 92;
    public const int C2Latency = 96;
    public const int C3Latency = 98;
    public const int Century = 108;
    public const int IapcBootArch = 109;
    public const int Flags = 112;
    public const int ResetReg = 116;
    public const int ResetValue = 128;
    public const int XDsdt = 140;
    public const int XPm1aEventBlock = 148;
    public const int XPm1aControlBlock = 172;
    public const int XPmTimerBlock = 208;
    public const int XGpe0Block = 220;

    public const ushort PmBase = 0x600, Pm1aControl = PmBase + 4, PmTimer = PmBase + 8, Gpe0 = PmBase + 0x20;
    public const byte Gpe0Length = 0x10;
    public const ushort SciIrq = 9;
    public const ushort ApmControlPort = 0xB2;
    public const ushort ResetControlPort = 0xCF9;
    public const byte ResetCpuAndSystem = 0x0F;

    /// <summary>C2 and C3 latencies over 100 and 1000 µs: the states are not supported.</summary>
    public const ushort NoC2C3 = 0x0FFF;

    /// <summary>The CMOS RAM index of the century (include/hw/rtc/mc146818rtc_regs.h RTC_CENTURY).</summary>
    public const byte RtcCentury = 0x32;

    /// <summary>IAPC_BOOT_ARCH 8042 (Table 5.11): a keyboard controller is present.</summary>
    public const ushort Has8042 = 1 << 1;

    // Fixed feature flags (Table 5.10).
    public const uint Wbinvd = 1u << 0, ProcC1 = 1u << 2, SlpButton = 1u << 5, RtcS4 = 1u << 7, ResetRegSup = 1u << 10, UsePlatformClock = 1u << 15;

    public static byte[] Build(uint facsOffset, uint dsdtOffset)
    {
        byte[] table = QemuTable.Create(Signature, Length, Revision);
        Span<byte> t = table;
        BinaryPrimitives.WriteUInt32LittleEndian(t[FirmwareCtrl..], facsOffset);
        BinaryPrimitives.WriteUInt32LittleEndian(t[Dsdt..], dsdtOffset);
        t[InterruptModel] = 1; // ACPI 1.0's INT_MODEL field, which QEMU still sets to 1 (APIC)
        BinaryPrimitives.WriteUInt16LittleEndian(t[SciInt..], SciIrq);
        BinaryPrimitives.WriteUInt32LittleEndian(t[SmiCmd..], ApmControlPort);
        t[AcpiEnable] = 2;
        t[AcpiDisable] = 3;
        BinaryPrimitives.WriteUInt32LittleEndian(t[Pm1aEventBlock..], PmBase);
        BinaryPrimitives.WriteUInt32LittleEndian(t[Pm1aControlBlock..], Pm1aControl);
        BinaryPrimitives.WriteUInt32LittleEndian(t[PmTimerBlock..], PmTimer);
        BinaryPrimitives.WriteUInt32LittleEndian(t[Gpe0Block..], Gpe0);
        t[Pm1EventLength] = 4;
        t[Pm1ControlLength] = 2;
        t[PmTimerLength] = 4;
        t[Gpe0BlockLength] = Gpe0Length;
        BinaryPrimitives.WriteUInt16LittleEndian(t[C2Latency..], NoC2C3);
        BinaryPrimitives.WriteUInt16LittleEndian(t[C3Latency..], NoC2C3);
        t[Century] = RtcCentury;
        BinaryPrimitives.WriteUInt16LittleEndian(t[IapcBootArch..], Has8042);
        BinaryPrimitives.WriteUInt32LittleEndian(t[Flags..], Wbinvd | ProcC1 | SlpButton | RtcS4 | ResetRegSup | UsePlatformClock);
        WriteIo(t[ResetReg..], 8, ResetControlPort);
        t[ResetValue] = ResetCpuAndSystem;
        BinaryPrimitives.WriteUInt64LittleEndian(t[XDsdt..], dsdtOffset);
        WriteIo(t[XPm1aEventBlock..], 32, PmBase);
        WriteIo(t[XPm1aControlBlock..], 16, Pm1aControl);
        WriteIo(t[XPmTimerBlock..], 32, PmTimer);
        WriteIo(t[XGpe0Block..], Gpe0Length * 8, Gpe0);
        return table;
    }

    /// <summary>A Generic Address Structure in I/O space with access size 0 (undefined), as QEMU writes them.</summary>
    private static void WriteIo(Span<byte> gas, int bitWidth, ushort port)
    {
        gas[0] = GenericAddress.SystemIo;
        gas[1] = (byte)bitWidth;
        BinaryPrimitives.WriteUInt64LittleEndian(gas[4..], port);
    }
}
