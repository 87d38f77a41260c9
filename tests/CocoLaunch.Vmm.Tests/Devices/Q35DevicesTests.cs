using CocoLaunch.Vmm.Boot;
using CocoLaunch.Vmm.Devices;

namespace CocoLaunch.Vmm.Tests.Devices;

/// <summary>
/// The q35 devices OVMF programs on a plain VM. Expected values: QEMU 7.2's q35 as OVMF reads it (a
/// memory_region_ops trace of QEMU running Debian's OVMF: the MCH device ID 0x29C0, PMBASE reading 1 before OVMF
/// writes 0x601) and QEMU's pc_cmos_init (hw/i386/pc.c) for the CMOS memory bytes.
/// </summary>
public sealed class Q35DevicesTests
{
    private static uint ConfigRead(Q35Pci pci, int bus, int device, int function, int offset, int size)
    {
        pci.Write(Q35Pci.ConfigAddress, 4, 0x8000_0000u | (uint)(bus << 16) | (uint)(device << 11) | (uint)(function << 8) | (uint)(offset & 0xFC));
        return pci.Read((ushort)(Q35Pci.ConfigData + (offset & 3)), size);
    }

    [Fact]
    public void HostBridgeAndLpc_AnswerAsQemusQ35_AndNothingElseIsThere()
    {
        var pci = new Q35Pci();
        Assert.Equal(0x29C0u, ConfigRead(pci, 0, 0, 0, 2, 2));
        Assert.Equal(0x2918u, ConfigRead(pci, 0, 31, 0, 2, 2));
        Assert.Equal(0xFFFFu, ConfigRead(pci, 0, 1, 0, 0, 2));
        Assert.Equal(0xFFFFu, ConfigRead(pci, 1, 0, 0, 0, 2));
        Assert.Equal(1u, ConfigRead(pci, 0, 31, 0, 0x40, 4)); // PMBASE: the I/O-space bit only
    }

    [Fact]
    public void PmBase_KeepsItsIoSpaceBit_AndTheEcamWindowOpensWithPciExBar()
    {
        var pci = new Q35Pci();
        pci.Write(Q35Pci.ConfigAddress, 4, 0x8000_F840);
        pci.Write(Q35Pci.ConfigData, 4, 0x600); // OVMF writes PMBASE | 1; a guest writing it bare still reads bit 0 set
        Assert.Equal(0x601u, ConfigRead(pci, 0, 31, 0, 0x40, 4));
        Assert.Equal(0x600, pci.AcpiPmBase);

        ulong lpcVendor = (31UL << 15) | 0;
        Assert.Equal(0xFFFFUL, ((IMmioDevice)pci).Read(lpcVendor, 2)); // PCIEXBAR not enabled yet
        pci.Write(Q35Pci.ConfigAddress, 4, 0x8000_0060);
        pci.Write(Q35Pci.ConfigData, 4, (uint)Q35Pci.EcamBase | 1);
        Assert.Equal(0x8086UL, ((IMmioDevice)pci).Read(lpcVendor, 2));
        Assert.Equal(0x2918UL, ((IMmioDevice)pci).Read(lpcVendor + 2, 2));
    }

    [Fact]
    public void EcamWindow_FollowsPciExBar_WhereEachOvmfPutsIt()
    {
        // OVMF 2022.11 writes 0xB0000000 | 1 (256 buses); OVMF 2025.02 as a TD writes 0xE0000000 | 1 (its first ECAM
        // read in that run was 0xE00F8040, the LPC bridge's PMBASE). QEMU's mch_update_pciexbar maps the window there.
        int writes = 0;
        var pci = new Q35Pci { PciExBarWritten = () => writes++ };
        Assert.Null(pci.EcamWindow);
        pci.Write(Q35Pci.ConfigAddress, 4, 0x8000_0060);
        pci.Write(Q35Pci.ConfigData, 4, 0xB000_0001);
        Assert.Equal((0xB000_0000UL, 256UL << 20), pci.EcamWindow);
        pci.Write(Q35Pci.ConfigData, 4, 0xE000_0001);
        Assert.Equal((0xE000_0000UL, 256UL << 20), pci.EcamWindow);
        pci.Write(Q35Pci.ConfigData, 4, 0xE000_0005); // LENGTH 2: 64 buses
        Assert.Equal((0xE000_0000UL, 64UL << 20), pci.EcamWindow);
        pci.Write(Q35Pci.ConfigData, 4, 0xE000_0000); // disabled
        Assert.Null(pci.EcamWindow);
        Assert.Equal(4, writes);
        pci.Write(Q35Pci.ConfigAddress, 4, 0x8000_0040); // another MCH register: no move
        pci.Write(Q35Pci.ConfigData, 4, 0x1234);
        Assert.Equal(4, writes);
    }

    [Fact]
    public void PmTimer_CountsAt3579545Hz_AndS5PowersOff()
    {
        var clock = new ManualClock();
        var pm = new Ich9PmPorts(clock);
        clock.Advance(1_000_000_000);
        Assert.Equal(3_579_545u & 0xFF_FFFF, pm.Read(Ich9PmPorts.Base + 8, 4));
        pm.Write(Ich9PmPorts.Base + 4, 2, 1 << 13); // SLP_EN with SLP_TYP 0, QEMU's q35 \_S5
        Assert.True(pm.PoweredOff);
    }

    [Theory]
    [InlineData(2UL << 30, 0UL, new byte[] { 0x80, 0x02, 0xFF, 0xFF, 0x00, 0x7F, 0, 0, 0 })]
    [InlineData(2UL << 30, 2UL << 30, new byte[] { 0x80, 0x02, 0xFF, 0xFF, 0x00, 0x7F, 0x00, 0x80, 0x00 })]
    [InlineData(16UL << 20, 0UL, new byte[] { 0x80, 0x02, 0x00, 0x3C, 0x00, 0x00, 0, 0, 0 })]
    public void CmosMemoryBytes_AreQemusPcCmosInit(ulong below4G, ulong above4G, byte[] expected)
    {
        // 0x15-0x16 base KiB (640), 0x17-0x18 KiB above 1 MiB (at most 0xFFFF), 0x34-0x35 64 KiB units above
        // 16 MiB, 0x5b-0x5d 64 KiB units above 4 GiB.
        var cmos = new CmosRtc(DateTimeOffset.UnixEpoch, new ManualClock());
        var ram = new List<(ulong, ulong)> { (0, below4G) };
        if (above4G > 0)
        {
            ram.Add((1UL << 32, above4G));
        }

        Q35Board.SetCmosMemory(cmos, ram, 1);
        byte Get(int register)
        {
            cmos.Write(0x70, 1, (uint)register);
            return (byte)cmos.Read(0x71, 1);
        }

        Assert.Equal(expected, new[] { 0x15, 0x16, 0x17, 0x18, 0x34, 0x35, 0x5B, 0x5C, 0x5D }.Select(Get).ToArray());
        Assert.Equal((Get(0x17), Get(0x18)), (Get(0x30), Get(0x31)));
    }
}
