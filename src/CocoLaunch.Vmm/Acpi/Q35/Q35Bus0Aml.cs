using static CocoLaunch.Vmm.Acpi.Aml;

namespace CocoLaunch.Vmm.Acpi.Q35;

/// <summary>
/// The devices QEMU 7.2 describes on q35's bus 0 (hw/i386/acpi-build.c build_append_pci_bus_devices): function 0 of
/// each populated slot and any function that brings its own AML. For <c>-machine q35 -nic none</c> those are the
/// MCH (00.0), the default VGA (01.0), the ICH9 LPC bridge (1f.0, with its ISA devices) and the ICH9 SMBus (1f.3);
/// the AHCI controller (1f.2) is neither. The root bus is not hotpluggable, so PCNT, the rescan method, is empty.
/// </summary>
internal static class Q35Bus0Aml
{
    private const int VgaSlot = 1, IchSlot = 0x1F, LpcFunction = 0, SmbusFunction = 3;

    public static byte[] Build() => Scope(
        "\\_SB",
        Scope(
            "PCI0",
            SlotDevice(0, 0),
            SlotDevice(VgaSlot, 0, Method("_S1D", 0, false, Return(Integer(0))), Method("_S2D", 0, false, Return(Integer(0))), Method("_S3D", 0, false, Return(Integer(0)))),
            SlotDevice(IchSlot, LpcFunction, Q35LpcAml.Build()),
            SlotDevice(IchSlot, SmbusFunction),
            Method("PCNT", 0, false)));

    /// <summary>Device S&lt;devfn in hex&gt; with _ADR (slot in the high word, function in the low).</summary>
    private static byte[] SlotDevice(int slot, int function, params byte[][] terms)
    {
        int devfn = (slot << 3) | function;
        return Device($"S{devfn:X2}", [Name("_ADR", Integer((ulong)((slot << 16) | function))), .. terms]);
    }
}
