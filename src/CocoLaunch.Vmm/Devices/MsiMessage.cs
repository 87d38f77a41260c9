namespace CocoLaunch.Vmm.Devices;

/// <summary>
/// An x86 MSI message (Intel SDM vol. 3 §11.11): address 0xFEExxxxx with the destination APIC ID in bits 19:12,
/// data with the vector in bits 7:0, delivery mode 10:8, trigger mode bit 15.
/// </summary>
public readonly record struct MsiMessage(ulong Address, uint Data)
{
    /// <summary>The vector the local APIC raises (data bits 7:0).</summary>
    public byte Vector => (byte)Data;

    /// <summary>The destination APIC ID (address bits 19:12).</summary>
    public byte Destination => (byte)(Address >> 12);

    /// <summary>Level-triggered (data bit 15): the local APIC sends an EOI back to the IOAPIC.</summary>
    public bool LevelTriggered => (Data & (1u << 15)) != 0;
}
