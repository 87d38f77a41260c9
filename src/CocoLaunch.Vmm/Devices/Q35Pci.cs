using System.Buffers.Binary;

namespace CocoLaunch.Vmm.Devices;

/// <summary>
/// PCI configuration space of QEMU's q35 board as OVMF programs it: the MCH host bridge at 00:00.0 (Intel 3 Series
/// datasheet; QEMU hw/pci-host/q35.c) and the ICH9 LPC bridge at 00:1f.0 (QEMU hw/isa/lpc_ich9.c), through
/// mechanism #1 (0xCF8/0xCFC) and through the PCI Express window (ECAM) the MCH's PCIEXBAR enables. Writable are only
/// the registers firmware sets here: the command word, PCIEXBAR, PAM and SMRAM on the MCH, PMBASE, ACPI_CNTL, the
/// PIRQ routing and RCBA on the LPC bridge. Any other bus, device or function reads all ones.
/// </summary>
public sealed class Q35Pci : IPortDevice, IMmioDevice
{
    public const ushort ConfigAddress = 0xCF8, ConfigData = 0xCFC;

    /// <summary>Where OVMF 2022.11 puts the ECAM window (PcdPciExpressBaseAddress); newer OVMF may choose another base.</summary>
    public const ulong EcamBase = 0xB000_0000;

    public const ushort DeviceMch = 0x29C0, DeviceLpc = 0x2918;
    private const ushort VendorIntel = 0x8086;
    private const int Lpc = (31 << 3) | 0;

    private const int PciExBar = 0x60, Pam0 = 0x90, Pam6 = 0x96, Smram = 0x9D, Esmramc = 0x9E;
    private const int PmBase = 0x40, AcpiControl = 0x44, PirqA = 0x60, PirqE = 0x68, Rcba = 0xF0;

    private readonly byte[] mch = Header(DeviceMch, 0x060000);
    private readonly byte[] lpc = LpcHeader();
    private readonly Lock gate = new();
    private uint address;

    /// <summary>PMBASE as the firmware set it (bit 0 is the I/O-space indicator), and whether ACPI_CNTL enabled it.</summary>
    public ushort AcpiPmBase => (ushort)(BinaryPrimitives.ReadUInt32LittleEndian(lpc.AsSpan(PmBase)) & 0xFF80);

    public bool AcpiPmEnabled => (lpc[AcpiControl] & 0x80) != 0;

    private bool EcamEnabled => (mch[PciExBar] & 1) != 0;

    /// <summary>
    /// The ECAM window PCIEXBAR opens (base, length), or null while it is disabled: LENGTH in bits 2:1 gives 256, 128 or
    /// 64 buses, and the base is aligned to the window (Intel 3 Series datasheet §5.1.14; QEMU mch_update_pciexbar).
    /// </summary>
    public (ulong Base, ulong Length)? EcamWindow
    {
        get
        {
            lock (gate)
            {
                ulong bar = BinaryPrimitives.ReadUInt64LittleEndian(mch.AsSpan(PciExBar));
                ulong length = ((bar >> 1) & 3) switch { 0 => 256UL << 20, 1 => 128UL << 20, 2 => 64UL << 20, _ => 0 };
                return EcamEnabled && length != 0 ? (bar & 0x7F_FFFF_FFFF & ~(length - 1), length) : null;
            }
        }
    }

    /// <summary>Called after a write to PCIEXBAR, so the board moves the ECAM window where it now points.</summary>
    public Action? PciExBarWritten { get; init; }

    /// <summary>The LPC bridge; PMBASE bit 0 reads 1, the I/O-space indicator (ICH9 datasheet §13.8.3.1).</summary>
    private static byte[] LpcHeader()
    {
        var h = Header(DeviceLpc, 0x060100, multiFunction: true);
        h[PmBase] = 1;
        return h;
    }

    private static byte[] Header(ushort device, uint classCode, bool multiFunction = false)
    {
        var h = new byte[4096];
        BinaryPrimitives.WriteUInt16LittleEndian(h, VendorIntel);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(2), device);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(8), classCode << 8);
        h[0x0E] = multiFunction ? (byte)0x80 : (byte)0;
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(0x2C), 0x1AF4); // Red Hat, Inc., as QEMU's subsystem IDs
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(0x2E), 0x1100);
        return h;
    }

    public uint Read(ushort port, int size)
    {
        lock (gate)
        {
            if (port == ConfigAddress)
            {
                return size == 4 ? address : AccessWidth.AllOnes(size);
            }

            int offset = (int)(address & 0xFC) + (port - ConfigData);
            return (address & 0x8000_0000) != 0 && port - ConfigData is >= 0 and < 4
                ? (uint)ReadConfig((int)(address >> 16 & 0xFF), (int)(address >> 8 & 0xFF), offset, size)
                : AccessWidth.AllOnes(size);
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
                    address = value & 0x80FF_FFFC;
                }

                return;
            }

            if ((address & 0x8000_0000) != 0 && port - ConfigData is >= 0 and < 4)
            {
                WriteConfig((int)(address >> 16 & 0xFF), (int)(address >> 8 & 0xFF), (int)(address & 0xFC) + (port - ConfigData), size, value);
            }
        }
    }

    /// <summary>ECAM: bus in bits 27:20, device/function in 19:12, register in 11:0 of the offset into the window.</summary>
    public ulong Read(ulong offset, int size)
    {
        lock (gate)
        {
            return EcamEnabled ? ReadConfig((int)(offset >> 20), (int)(offset >> 12 & 0xFF), (int)(offset & 0xFFF), size) : AccessWidth.AllOnes64(size);
        }
    }

    public void Write(ulong offset, int size, ulong value)
    {
        lock (gate)
        {
            if (EcamEnabled)
            {
                WriteConfig((int)(offset >> 20), (int)(offset >> 12 & 0xFF), (int)(offset & 0xFFF), size, (uint)value);
            }
        }
    }

    private byte[]? Function(int bus, int deviceFunction) => bus != 0 ? null : deviceFunction switch
    {
        0 => mch,
        Lpc => lpc,
        _ => null,
    };

    private ulong ReadConfig(int bus, int deviceFunction, int offset, int size)
    {
        if (Function(bus, deviceFunction) is not { } space || offset + size > space.Length)
        {
            return AccessWidth.AllOnes64(size);
        }

        ulong value = 0;
        for (int i = size - 1; i >= 0; i--)
        {
            value = (value << 8) | space[offset + i];
        }

        return value;
    }

    private void WriteConfig(int bus, int deviceFunction, int offset, int size, uint value)
    {
        if (Function(bus, deviceFunction) is not { } space || offset + size > space.Length)
        {
            return;
        }

        for (int i = 0; i < size; i++)
        {
            int at = offset + i;
            if (Writable(space == mch, at))
            {
                space[at] = (byte)(value >> (8 * i));
            }

            if (space == lpc && at == PmBase)
            {
                space[at] |= 1;
            }
        }

        if (space == mch && offset < PciExBar + 8 && offset + size > PciExBar)
        {
            PciExBarWritten?.Invoke();
        }
    }

    private static bool Writable(bool isMch, int at) => at is 0x04 or 0x05 || (isMch
        ? at is >= PciExBar and < PciExBar + 8 or >= Pam0 and <= Pam6 or Smram or Esmramc
        : at is >= PmBase and < PmBase + 4 or AcpiControl or >= PirqA and < PirqA + 4 or >= PirqE and < PirqE + 4 or >= Rcba and < Rcba + 4);
}
