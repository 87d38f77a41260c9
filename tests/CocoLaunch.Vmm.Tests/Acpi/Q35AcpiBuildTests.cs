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
    /// <summary>Capture folder, vCPUs, -m in GiB.</summary>
    public static TheoryData<string, int, int> Captures => new()
    {
        { "no-tpm-2G", 1, 2 },
        { "no-tpm-2G-2cpu", 2, 2 },
        { "no-tpm-1G-4cpu", 4, 1 },
        { "no-tpm-5G", 1, 5 },
    };

    private static QemuAcpiFiles Generate(int cpus, int gib) => Q35AcpiBuild.Build(Q35MachineShape.ForMemory(cpus, (ulong)gib << 30));

    private static byte[] Captured(string folder, string file) => File.ReadAllBytes(RepoPaths.TestData(Path.Combine("ovmf-direct-boot", folder, file)));

    [Theory]
    [MemberData(nameof(Captures))]
    public void Tables_EqualQemus_TableByTable(string folder, int cpus, int gib)
    {
        byte[] expected = Captured(folder, "etc_acpi_tables");
        byte[] actual = Generate(cpus, gib).Tables;
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
    public void TableLoader_EqualsQemus(string folder, int cpus, int gib)
    {
        byte[] expected = Captured(folder, "etc_table-loader");
        byte[] actual = Generate(cpus, gib).TableLoader;
        Assert.Equal(expected.Length, actual.Length);
        int differs = FirstDifference(expected, actual);
        Assert.True(differs < 0, $"{folder}: command {differs / 128} differs at byte {differs % 128}");
    }

    [Theory]
    [MemberData(nameof(Captures))]
    public void Rsdp_EqualsQemus(string folder, int cpus, int gib) =>
        Assert.Equal(Captured(folder, "etc_acpi_rsdp"), Generate(cpus, gib).Rsdp);

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
