using System.Buffers.Binary;

namespace CocoLaunch.Vmm.Devices;

/// <summary>
/// PCI configuration mechanism #1 (PCI Local Bus Specification 3.0 §3.2.2.3.2) with one function behind it, a host
/// bridge at 00:00.0 with QEMU q35's IDs, so Linux's pci_check_type1 and pci_sanity_check
/// (arch/x86/pci/direct.c) accept the mechanism. Register it at <see cref="ConfigAddress"/> (1 port: a byte at
/// 0xCF9 is the reset control register, not part of CONFIG_ADDRESS) and at <see cref="ConfigData"/> (4 ports).
/// </summary>
public sealed class PciHostBridge : IPortDevice
{
    public const ushort ConfigAddress = 0xCF8;
    public const ushort ConfigData = 0xCFC;
    public const ushort ConfigDataPorts = 4;

    public const ushort VendorIntel = 0x8086;
    public const ushort DeviceQ35HostBridge = 0x29C0;
    public const uint ClassHostBridge = 0x06_00_00;

    // CONFIG_ADDRESS fields.
    private const uint Enable = 0x8000_0000;
    private const uint AddressWritable = Enable | 0x00FF_FFFC;
    private const int BusShift = 16;
    private const int DeviceFunctionShift = 8;

    // Type 0 header offsets (PCI 3.0 §6.1).
    private const int VendorId = 0x00;
    private const int DeviceId = 0x02;
    private const int Command = 0x04;
    private const int RevisionAndClass = 0x08;
    private const int HeaderType = 0x0E;
    private const int SubsystemVendorId = 0x2C;
    private const int SubsystemId = 0x2E;

    // Only I/O space, memory space and bus master enables can be written; the rest of the header is fixed.
    private const ushort CommandWritable = 0x0007;
    private const ushort SubsystemVendorRedHat = 0x1AF4;
    private const ushort SubsystemQemu = 0x1100;

    private readonly byte[] hostBridge = new byte[256];
    private readonly Lock gate = new();
    private uint address;

    public PciHostBridge()
    {
        Span<byte> h = hostBridge;
        BinaryPrimitives.WriteUInt16LittleEndian(h[VendorId..], VendorIntel);
        BinaryPrimitives.WriteUInt16LittleEndian(h[DeviceId..], DeviceQ35HostBridge);
        BinaryPrimitives.WriteUInt32LittleEndian(h[RevisionAndClass..], ClassHostBridge << 8);
        h[HeaderType] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(h[SubsystemVendorId..], SubsystemVendorRedHat);
        BinaryPrimitives.WriteUInt16LittleEndian(h[SubsystemId..], SubsystemQemu);
    }

    public uint Read(ushort port, int size)
    {
        lock (gate)
        {
            if (port == ConfigAddress)
            {
                // Only a dword access reaches CONFIG_ADDRESS; narrower ones pass through to the ISA bus.
                return size == 4 ? address : AccessWidth.AllOnes(size);
            }

            if (port - ConfigData is < 0 or >= ConfigDataPorts || !TrySelectHostBridge(port, size, out int offset))
            {
                return AccessWidth.AllOnes(size);
            }

            uint value = 0;
            for (int i = size - 1; i >= 0; i--)
            {
                value = (value << 8) | hostBridge[offset + i];
            }

            return value;
        }
    }

    public void Write(ushort port, int size, uint value)
    {
        lock (gate)
        {
            if (port == ConfigAddress)
            {
                if (size == 4)
                {
                    address = value & AddressWritable;
                }

                return;
            }

            if (port - ConfigData is < 0 or >= ConfigDataPorts || !TrySelectHostBridge(port, size, out int offset))
            {
                return;
            }

            for (int i = 0; i < size; i++)
            {
                WriteByte(offset + i, (byte)(value >> (8 * i)));
            }
        }
    }

    /// <summary>The config-space offset an access to <paramref name="port"/> reaches, if it selects 00:00.0.</summary>
    private bool TrySelectHostBridge(ushort port, int size, out int offset)
    {
        offset = (int)(address & 0xFC) + (port - ConfigData);
        uint busDeviceFunction = (address >> DeviceFunctionShift) & 0xFFFF;
        return (address & Enable) != 0 && busDeviceFunction == 0 && offset + size <= hostBridge.Length
            && (address >> BusShift & 0xFF) == 0;
    }

    private void WriteByte(int offset, byte value)
    {
        int inCommand = offset - Command;
        if (inCommand is 0 or 1)
        {
            byte mask = (byte)(CommandWritable >> (8 * inCommand));
            hostBridge[offset] = (byte)((hostBridge[offset] & ~mask) | (value & mask));
        }
    }
}
