using System.Buffers.Binary;

namespace CocoLaunch.Vmm.Acpi.Q35;

/// <summary>
/// The PCI Express memory-mapped configuration table (PCI Firmware Specification 3.2 §4.1.2; hw/acpi/pci.c
/// build_mcfg): 8 reserved bytes, then one allocation, the q35 MCH's ECAM window for segment 0, buses 0-255.
/// </summary>
internal static class Mcfg
{
    public const string Signature = "MCFG";
    public const int Length = 60;
    public const byte Revision = 1;

    public const int Allocation = 44;
    public const int AllocationBase = Allocation;
    public const int AllocationSegment = Allocation + 8;
    public const int AllocationStartBus = Allocation + 10;
    public const int AllocationEndBus = Allocation + 11;

    public static byte[] Build(ulong ecamBase, int buses)
    {
        byte[] table = QemuTable.Create(Signature, Length, Revision);
        Span<byte> t = table;
        BinaryPrimitives.WriteUInt64LittleEndian(t[AllocationBase..], ecamBase);
        BinaryPrimitives.WriteUInt16LittleEndian(t[AllocationSegment..], 0);
        t[AllocationStartBus] = 0;
        t[AllocationEndBus] = (byte)(buses - 1);
        return table;
    }
}
