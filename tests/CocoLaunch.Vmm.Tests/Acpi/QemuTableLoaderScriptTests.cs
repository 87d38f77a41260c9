using System.Buffers.Binary;
using System.Text;
using CocoLaunch.Vmm.Acpi;
using CocoLaunch.Vmm.Devices;

namespace CocoLaunch.Vmm.Tests.Acpi;

/// <summary>
/// The table-loader script run the way QEMU's linker-loader interface defines it (hw/acpi/bios-linker-loader.c:
/// ALLOCATE places a file, ADD_POINTER adds the source file's address to a little-endian pointer, ADD_CHECKSUM
/// makes a byte range sum to zero), with each file at an address of the test's choosing: the RSDP must then lead to
/// a valid XSDT, FADT and DSDT at those addresses, every checksum must hold.
/// </summary>
public sealed class QemuTableLoaderScriptTests
{
    internal sealed class Files : IDmaMemory
    {
        public bool TryRead(Abi.Gpa gpa, Span<byte> destination) => false;

        public bool TryWrite(Abi.Gpa gpa, ReadOnlySpan<byte> source) => false;
    }

    internal static byte[] ReadFile(FwCfg fwCfg, string name)
    {
        // The directory (key 0x19): a big-endian count, then 64-byte entries {be32 size, be16 key, be16 reserved, name[56]}.
        byte[] dir = Item(fwCfg, FwCfg.FileDir, 4 + (64 * 32));
        int count = (int)BinaryPrimitives.ReadUInt32BigEndian(dir);
        for (int i = 0; i < count; i++)
        {
            var e = dir.AsSpan(4 + (64 * i), 64);
            if (Encoding.ASCII.GetString(e[8..]).TrimEnd('\0') == name)
            {
                return Item(fwCfg, BinaryPrimitives.ReadUInt16BigEndian(e[4..]), (int)BinaryPrimitives.ReadUInt32BigEndian(e));
            }
        }

        throw new KeyNotFoundException(name);
    }

    private static byte[] Item(FwCfg fwCfg, ushort key, int length)
    {
        fwCfg.Write(FwCfg.SelectorPort, 2, key);
        var bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            bytes[i] = (byte)fwCfg.Read(FwCfg.DataPort, 1);
        }

        return bytes;
    }

    [Fact]
    public void TheScript_RelocatesAndChecksumsTheTables_WhereverTheFirmwarePutsThem()
    {
        var fwCfg = new FwCfg(new Files());
        QemuTableLoaderScript.AddTo(fwCfg, AcpiTables.Build(new AcpiPlatform(2, CmosRtc: true), 0));
        var blobs = new Dictionary<string, byte[]>
        {
            ["etc/acpi/rsdp"] = ReadFile(fwCfg, "etc/acpi/rsdp"),
            ["etc/acpi/tables"] = ReadFile(fwCfg, "etc/acpi/tables"),
        };
        var bases = new Dictionary<string, ulong> { ["etc/acpi/rsdp"] = 0xF_0000, ["etc/acpi/tables"] = 0x7FB7_0000 };
        byte[] script = ReadFile(fwCfg, "etc/table-loader");
        string Name(int at) => Encoding.ASCII.GetString(script, at, 56).TrimEnd('\0');
        var allocated = new List<string>();
        for (int at = 0; at < script.Length; at += 128)
        {
            uint offset;
            switch (BinaryPrimitives.ReadUInt32LittleEndian(script.AsSpan(at)))
            {
                case 1:
                    allocated.Add(Name(at + 4));
                    break;
                case 2:
                    var dest = blobs[Name(at + 4)];
                    offset = BinaryPrimitives.ReadUInt32LittleEndian(script.AsSpan(at + 116));
                    int size = script[at + 120];
                    ulong value = size == 8 ? BinaryPrimitives.ReadUInt64LittleEndian(dest.AsSpan((int)offset)) : BinaryPrimitives.ReadUInt32LittleEndian(dest.AsSpan((int)offset));
                    value += bases[Name(at + 60)];
                    if (size == 8)
                    {
                        BinaryPrimitives.WriteUInt64LittleEndian(dest.AsSpan((int)offset), value);
                    }
                    else
                    {
                        BinaryPrimitives.WriteUInt32LittleEndian(dest.AsSpan((int)offset), (uint)value);
                    }

                    break;
                case 3:
                    var file = blobs[Name(at + 4)];
                    offset = BinaryPrimitives.ReadUInt32LittleEndian(script.AsSpan(at + 60));
                    uint start = BinaryPrimitives.ReadUInt32LittleEndian(script.AsSpan(at + 64));
                    uint length = BinaryPrimitives.ReadUInt32LittleEndian(script.AsSpan(at + 68));
                    // OVMF assigns minus the range's sum, the checksum byte's served value included (edk2 OvmfPkg
                    // AcpiPlatformDxe QemuFwCfgAcpi.c, ProcessCmdAddChecksum), so a non-zero served byte breaks it.
                    file[offset] = (byte)(0 - file.Skip((int)start).Take((int)length).Aggregate(0, (sum, b) => sum + b));
                    break;
            }
        }

        Assert.Equal(["etc/acpi/rsdp", "etc/acpi/tables"], allocated);
        byte[] rsdp = blobs["etc/acpi/rsdp"], tables = blobs["etc/acpi/tables"];
        ulong tablesBase = bases["etc/acpi/tables"];
        Assert.Equal(0, rsdp.Take(20).Aggregate(0, (s, b) => (s + b) & 0xFF));
        Assert.Equal(0, rsdp.Take(36).Aggregate(0, (s, b) => (s + b) & 0xFF));
        int Local(ulong gpa) => (int)(gpa - tablesBase);
        int xsdt = Local(BinaryPrimitives.ReadUInt64LittleEndian(rsdp.AsSpan(24)));
        Assert.Equal("XSDT", Encoding.ASCII.GetString(tables, xsdt, 4));
        int Checksum(int table) => tables.Skip(table).Take((int)BinaryPrimitives.ReadUInt32LittleEndian(tables.AsSpan(table + 4))).Aggregate(0, (s, b) => (s + b) & 0xFF);
        Assert.Equal(0, Checksum(xsdt));
        var signatures = new List<string>();
        for (int entry = xsdt + 36; entry < xsdt + (int)BinaryPrimitives.ReadUInt32LittleEndian(tables.AsSpan(xsdt + 4)); entry += 8)
        {
            int table = Local(BinaryPrimitives.ReadUInt64LittleEndian(tables.AsSpan(entry)));
            signatures.Add(Encoding.ASCII.GetString(tables, table, 4));
            Assert.Equal(0, Checksum(table));
            if (signatures[^1] == "FACP")
            {
                int dsdt = Local(BinaryPrimitives.ReadUInt64LittleEndian(tables.AsSpan(table + 140)));
                Assert.Equal("DSDT", Encoding.ASCII.GetString(tables, dsdt, 4));
                Assert.Equal((uint)(tablesBase + (ulong)dsdt), BinaryPrimitives.ReadUInt32LittleEndian(tables.AsSpan(table + 40)));
                Assert.Equal(0, Checksum(dsdt));
            }
        }

        Assert.Equal(["FACP", "APIC"], signatures);
    }
}
