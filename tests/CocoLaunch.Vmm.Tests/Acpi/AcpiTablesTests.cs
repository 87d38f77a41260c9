using System.Buffers.Binary;
using System.Text;
using CocoLaunch.Vmm.Acpi;

namespace CocoLaunch.Vmm.Tests.Acpi;

public sealed class AcpiTablesTests
{
    private const ulong Base = 0xE_0000;
    private static readonly AcpiTableSet Set = AcpiTables.Build(new AcpiPlatform(CpuCount: 2), Base);

    internal static ReadOnlySpan<byte> Table(AcpiTableSet set, string signature)
    {
        var (_, gpa, length) = set.Tables.Single(t => t.Signature == signature);
        return set.Bytes.AsSpan((int)(gpa - Base), length);
    }

    private static int Sum(ReadOnlySpan<byte> bytes)
    {
        int sum = 0;
        foreach (byte b in bytes)
        {
            sum += b;
        }

        return sum & 0xFF;
    }

    private static ulong U64(ReadOnlySpan<byte> t, int at) => BinaryPrimitives.ReadUInt64LittleEndian(t[at..]);

    private static uint U32(ReadOnlySpan<byte> t, int at) => BinaryPrimitives.ReadUInt32LittleEndian(t[at..]);

    private static ulong Gpa(string signature) => Set.Tables.Single(t => t.Signature == signature).Gpa;

    [Fact]
    public void Layout_RsdpFirst_Then16ByteAlignedTables()
    {
        Assert.Equal(Base, Set.RsdpGpa);
        Assert.Equal(["RSD PTR ", "XSDT", "FACP", "APIC", "DSDT"], Set.Tables.Select(t => t.Signature));
        Assert.All(Set.Tables, t => Assert.Equal(0UL, t.Gpa % 16));
        var last = Set.Tables[^1];
        Assert.Equal((int)(last.Gpa - Base) + last.Length, Set.Bytes.Length);
    }

    [Fact]
    public void Rsdp_Revision2_BothChecksums_PointsAtTheXsdt()
    {
        var rsdp = Table(Set, "RSD PTR ");
        Assert.Equal("RSD PTR "u8.ToArray(), rsdp[..8].ToArray());
        Assert.Equal(0, Sum(rsdp[..20]));
        Assert.Equal(0, Sum(rsdp));
        Assert.Equal("COCOLA", Encoding.ASCII.GetString(rsdp[9..15]));
        Assert.Equal(2, rsdp[15]);
        Assert.Equal(0u, U32(rsdp, 16));
        Assert.Equal(36u, U32(rsdp, 20));
        Assert.Equal(Gpa("XSDT"), U64(rsdp, 24));
    }

    [Theory]
    [InlineData("XSDT")]
    [InlineData("FACP")]
    [InlineData("APIC")]
    [InlineData("DSDT")]
    public void Headers_LengthChecksumAndIds(string signature)
    {
        var t = Table(Set, signature);
        Assert.Equal(signature, Encoding.ASCII.GetString(t[..4]));
        Assert.Equal((uint)t.Length, U32(t, 4));
        Assert.Equal(0, Sum(t));
        Assert.Equal("COCOLA", Encoding.ASCII.GetString(t[10..16]));
        Assert.Equal("COCOLNCH", Encoding.ASCII.GetString(t[16..24]));
        Assert.Equal(1u, U32(t, 24));
        Assert.Equal("COCO", Encoding.ASCII.GetString(t[28..32]));
    }

    [Fact]
    public void Xsdt_ListsFadtAndMadt()
    {
        var x = Table(Set, "XSDT");
        Assert.Equal(36 + 16, x.Length);
        Assert.Equal(Gpa("FACP"), U64(x, 36));
        Assert.Equal(Gpa("APIC"), U64(x, 44));
    }

    /// <summary>
    /// With a CC event log, the XSDT lists a CCEL table of the layout in tdx-mrtd.md §6.2 (ACPI 6.5 §5.2.34): CC type,
    /// LAML at 40 and LASA at 48. That Linux finds the log through it is the TD boot test's (LinuxTdxLaunchTests).
    /// </summary>
    [Fact]
    public void Xsdt_WithAnEventLog_ListsTheCcelTable()
    {
        var set = AcpiTables.Build(new AcpiPlatform(CpuCount: 1, EventLog: new CcEventLog(CcEventLog.Tdx, 0x8000, 0x81_8000)), Base);
        var x = Table(set, "XSDT");
        var ccel = Table(set, "CCEL");
        Assert.Equal(36 + 24, x.Length);
        Assert.Equal(set.Tables.Single(t => t.Signature == "CCEL").Gpa, U64(x, 52));
        Assert.Equal((56, (byte)1, (byte)2, 0), (ccel.Length, ccel[8], ccel[36], Sum(ccel)));
        Assert.Equal((0x8000UL, 0x81_8000UL), (U64(ccel, 40), U64(ccel, 48)));
    }

    [Fact]
    public void Fadt_Revision65_HardwareReducedFields()
    {
        var f = Table(Set, "FACP");
        Assert.Equal(276, f.Length);
        Assert.Equal(6, f[8]);
        Assert.Equal(5, f[131]);
        Assert.Equal((uint)Gpa("DSDT"), U32(f, 40));
        Assert.Equal(Gpa("DSDT"), U64(f, 140));
        Assert.Equal(0u, U32(f, 36)); // FIRMWARE_CTRL: no FACS
        Assert.Equal(0UL, U64(f, 132)); // X_FIRMWARE_CTRL
        Assert.Equal((1u << 20) | (1u << 10) | (1u << 5) | (1u << 4), U32(f, 112));
        Assert.Equal(0x24, BinaryPrimitives.ReadUInt16LittleEndian(f[109..])); // VGA and CMOS RTC not present; no 8042
        Assert.Equal(1, f[128]);
        foreach (int at in (int[])[56, 64, 76, 80])
        {
            Assert.Equal(0u, U32(f, at)); // no PM1a event/control, PM timer or GPE0 blocks
        }
    }

    [Theory]
    [InlineData(116)] // RESET_REG
    [InlineData(244)] // SLEEP_CONTROL_REG
    [InlineData(256)] // SLEEP_STATUS_REG
    public void Fadt_PowerRegisters_AreByteWideSystemIoAt0x600(int at)
    {
        var gas = Table(Set, "FACP").Slice(at, 12);
        Assert.Equal(new byte[] { 1, 8, 0, 1 }, gas[..4].ToArray());
        Assert.Equal(0x600UL, U64(gas, 4));
    }

    [Fact]
    public void Fadt_CmosRtcPresent_ClearsItsBootArchBit()
    {
        var set = AcpiTables.Build(new AcpiPlatform(1, CmosRtc: true), Base);
        Assert.Equal(0x04, BinaryPrimitives.ReadUInt16LittleEndian(Table(set, "FACP")[109..]));
    }

    [Fact]
    public void Madt_LocalApicsIoApicAndNmi()
    {
        var m = Table(Set, "APIC");
        Assert.Equal(0xFEE0_0000u, U32(m, 36));
        Assert.Equal(0u, U32(m, 40));
        Assert.Equal(44 + (2 * 8) + 12 + 6, m.Length);
        Assert.Equal(new byte[] { 0, 8, 0, 0, 1, 0, 0, 0 }, m.Slice(44, 8).ToArray());
        Assert.Equal(new byte[] { 0, 8, 1, 1, 1, 0, 0, 0 }, m.Slice(52, 8).ToArray());
        Assert.Equal(new byte[] { 1, 12, 0, 0, 0x00, 0x00, 0xC0, 0xFE, 0, 0, 0, 0 }, m.Slice(60, 12).ToArray());
        Assert.Equal(new byte[] { 4, 6, 0xFF, 0, 0, 1 }, m.Slice(72, 6).ToArray());
    }

    [Fact]
    public void Dsdt_S5PackageAndCom1()
    {
        var d = Table(Set, "DSDT").ToArray();
        Assert.Equal(2, d[8]);
        byte[] s5 = [0x08, (byte)'_', (byte)'S', (byte)'5', (byte)'_', 0x12, 0x07, 0x04, 0x0A, 0x05, 0x00, 0x00, 0x00];
        Assert.Equal(s5, d[36..(36 + s5.Length)]);
        Assert.Contains(0x0105D041u, Enumerable.Range(36, d.Length - 40).Select(i => BinaryPrimitives.ReadUInt32LittleEndian(d.AsSpan(i))));
        byte[] crs = [0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x00, 0x08, 0x22, 0x10, 0x00, 0x79, 0x00];
        Assert.True(d.AsSpan().IndexOf(crs) > 0);
    }

    [Fact]
    public void Dsdt_WithoutCom1_HasOnlyS5()
    {
        var set = AcpiTables.Build(new AcpiPlatform(1, Com1: false), Base);
        Assert.Equal(36 + 13, Table(set, "DSDT").Length);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(255)]
    public void CpuCount_OutsideWhatTypeZeroEntriesHold_Throws(int cpus)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => AcpiTables.Build(new AcpiPlatform(cpus), Base));
    }
}
