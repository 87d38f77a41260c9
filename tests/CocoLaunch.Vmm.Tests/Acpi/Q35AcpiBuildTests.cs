using System.Buffers.Binary;
using System.Text;
using CocoLaunch.Tests.Shared;
using CocoLaunch.Vmm.Acpi.Q35;

namespace CocoLaunch.Vmm.Tests.Acpi;

/// <summary>
/// The q35 tables we generate against what QEMU 7.2 served Debian's OVMF 2025.02 for the same machine shape:
/// etc/acpi/tables, etc/table-loader and etc/acpi/rsdp as the guest read them from fw_cfg
/// (tests/data/ovmf-direct-boot/README.md: `capture.sh NAME MEMORY console=ttyS0 no-tpm VCPUS`, QEMU 7.2.22).
/// </summary>
public sealed class Q35AcpiBuildTests
{
    /// <summary>
    /// Capture folder, vCPUs, -m in GiB, and where the firmware put the ECAM window before it read the tables:
    /// OVMF 2025.02 at 0xE0000000, OVMF 2022.11 (no-tpm-2G-ovmf2022) at 0xB0000000, which QEMU's MCFG and DSDT follow.
    /// </summary>
    public static TheoryData<string, int, int, uint> Captures => new()
    {
        { "no-tpm-2G", 1, 2, 0xE000_0000 },
        { "no-tpm-2G-2cpu", 2, 2, 0xE000_0000 },
        { "no-tpm-1G-4cpu", 4, 1, 0xE000_0000 },
        { "no-tpm-5G", 1, 5, 0xE000_0000 },
        { "no-tpm-3G-2cpu", 2, 3, 0xE000_0000 },
        { "no-tpm-2G-ovmf2022", 1, 2, 0xB000_0000 },
    };

    private static QemuAcpiFiles Generate(int cpus, int gib, uint ecam) =>
        Q35AcpiBuild.Build(Q35MachineShape.ForMemory(cpus, (ulong)gib << 30) with { EcamBase = ecam });

    private static byte[] Captured(string folder, string file) => File.ReadAllBytes(RepoPaths.TestData(Path.Combine("ovmf-direct-boot", folder, file)));

    [Theory]
    [MemberData(nameof(Captures))]
    public void Tables_EqualQemus_TableByTable(string folder, int cpus, int gib, uint ecam)
    {
        byte[] expected = Captured(folder, "etc_acpi_tables");
        byte[] actual = Generate(cpus, gib, ecam).Tables;
        foreach (var (signature, offset, length) in Layout(expected))
        {
            Assert.True(offset + length <= actual.Length, $"{signature} at 0x{offset:x} lies beyond our {actual.Length} bytes");
            int differs = FirstDifference(expected.AsSpan(offset, length), actual.AsSpan(offset, length));
            Assert.True(differs < 0, $"{folder}: {signature} (at 0x{offset:x}, {length} bytes) differs first at table offset 0x{differs:x}");
        }

        Assert.Equal(expected.Length, actual.Length);
        Assert.True(expected.AsSpan().SequenceEqual(actual));
    }

    [Theory]
    [MemberData(nameof(Captures))]
    public void TableLoader_EqualsQemus(string folder, int cpus, int gib, uint ecam)
    {
        byte[] expected = Captured(folder, "etc_table-loader");
        byte[] actual = Generate(cpus, gib, ecam).TableLoader;
        Assert.Equal(expected.Length, actual.Length);
        int differs = FirstDifference(expected, actual);
        Assert.True(differs < 0, $"{folder}: command {differs / 128} differs at byte {differs % 128}");
    }

    [Theory]
    [MemberData(nameof(Captures))]
    public void Rsdp_EqualsQemus(string folder, int cpus, int gib, uint ecam) =>
        Assert.Equal(Captured(folder, "etc_acpi_rsdp"), Generate(cpus, gib, ecam).Rsdp);

    [Fact]
    public void EcamBase_MovesMcfgAndTheHostBridgeWindows_NotTheSizes()
    {
        var shape = Q35MachineShape.ForMemory(1, 2UL << 30);
        QemuAcpiFiles atE = Q35AcpiBuild.Build(shape), atB = Q35AcpiBuild.Build(shape with { EcamBase = 0xB000_0000 });
        Assert.Equal(atE.Tables.Length, atB.Tables.Length);
        Assert.Equal(atE.TableLoader, atB.TableLoader); // the same layout: only values inside the tables differ

        var mcfg = Layout(atB.Tables).Single(t => t.Signature == "MCFG");
        Assert.Equal(0xB000_0000UL, BinaryPrimitives.ReadUInt64LittleEndian(atB.Tables.AsSpan(mcfg.Offset + 44)));
    }

    [Fact]
    public void FwCfgFiles_AreRebuiltOnce_AtTheFirmwaresFirstSelect()
    {
        var fwCfg = new CocoLaunch.Vmm.Devices.FwCfg(new QemuTableLoaderScriptTests.Files());
        var shape = Q35MachineShape.ForMemory(1, 2UL << 30);
        var later = shape with { EcamBase = 0xB000_0000 };
        int builds = 0;
        Q35AcpiBuild.Build(shape).AddTo(fwCfg, () =>
        {
            builds++;
            return Q35AcpiBuild.Build(later);
        });

        Assert.Equal(Q35AcpiBuild.Build(later).Tables, QemuTableLoaderScriptTests.ReadFile(fwCfg, "etc/acpi/tables"));
        Assert.Equal(Q35AcpiBuild.Build(later).Rsdp, QemuTableLoaderScriptTests.ReadFile(fwCfg, "etc/acpi/rsdp"));
        Assert.Equal(1, builds);
    }

    [Fact]
    public void MachineShape_SplitsRamAsQ35Does()
    {
        Assert.Equal(new Q35MachineShape(1, 2UL << 30, 0), Q35MachineShape.ForMemory(1, 2UL << 30));
        Assert.Equal(new Q35MachineShape(1, 0xAFFF_F000, 0), Q35MachineShape.ForMemory(1, 0xAFFF_F000));
        Assert.Equal(new Q35MachineShape(1, 0x8000_0000, 0x3000_0000), Q35MachineShape.ForMemory(1, 0xB000_0000));
        Assert.Equal(new Q35MachineShape(1, 2UL << 30, 3UL << 30), Q35MachineShape.ForMemory(1, 5UL << 30));
        Assert.Equal(new Q35MachineShape(2, 2UL << 30, 3UL << 30), Q35MachineShape.FromRam(2, [(0, 0xA_0000), (0x10_0000, (2UL << 30) - 0x10_0000), (4UL << 30, 3UL << 30)]));
    }

    /// <summary>Each table in QEMU's file: signature and length from its header, one after another until the padding.</summary>
    private static List<(string Signature, int Offset, int Length)> Layout(byte[] tables)
    {
        var layout = new List<(string, int, int)>();
        for (int at = 0; at + 8 <= tables.Length && tables[at] != 0;)
        {
            int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(tables.AsSpan(at + 4));
            layout.Add((Encoding.ASCII.GetString(tables, at, 4), at, length));
            at += length;
        }

        return layout;
    }

    private static int FirstDifference(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual)
    {
        int common = expected.CommonPrefixLength(actual);
        return common == expected.Length && common == actual.Length ? -1 : common;
    }
}
