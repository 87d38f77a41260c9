namespace CocoLaunch.Vmm.Acpi;

/// <summary>
/// What the ACPI tables describe: a hardware-reduced PC with <paramref name="CpuCount"/> CPUs (APIC IDs 0..n−1),
/// one IOAPIC, the sleep/reset byte at <paramref name="PowerPort"/>, and optionally COM1, a CMOS RTC and a
/// confidential guest's event log (<paramref name="EventLog"/>, a CCEL table).
/// </summary>
/// <param name="IoApicId">
/// 0, as QEMU, Firecracker and cloud-hypervisor use: since the Pentium 4 interrupts travel as system-bus messages, so
/// IOAPIC and local APIC IDs no longer share the old APIC-bus namespace, and 64-bit Linux takes the MADT's ID as is
/// (io_apic_unique_id in arch/x86/kernel/apic/io_apic.c). It must match what the IOAPIC's ID register reads.
/// </param>
public sealed record AcpiPlatform(
    int CpuCount,
    byte IoApicId = 0,
    uint IoApicAddress = 0xFEC0_0000,
    uint IoApicGsiBase = 0,
    ushort PowerPort = 0x600,
    bool Com1 = true,
    bool CmosRtc = false,
    CcEventLog? EventLog = null)
{
    /// <summary>APIC IDs are one byte in a type-0 MADT entry, and 0xFF is the broadcast ID.</summary>
    public const int MaxCpus = 254;
}
