using System.Buffers.Binary;
using System.Text;
using CocoLaunch.Vmm.Devices;

namespace CocoLaunch.Vmm.Acpi;

/// <summary>
/// Serves ACPI tables to firmware the way QEMU does (hw/acpi/bios-linker-loader.c): the RSDP in
/// <c>etc/acpi/rsdp</c>, the tables in <c>etc/acpi/tables</c>, and a <c>etc/table-loader</c> script that allocates
/// both, adds each blob's load address to the pointers between them and recomputes the checksums. OVMF's
/// AcpiPlatformDxe runs the script and installs every table a pointer reaches. The tables are built at address 0,
/// so each pointer holds the offset the script relocates.
/// </summary>
public static class QemuTableLoaderScript
{
    public const string RsdpFile = "etc/acpi/rsdp", TablesFile = "etc/acpi/tables", LoaderFile = "etc/table-loader";

    private const int CommandSize = 128, FileNameSize = 56;
    private const uint Allocate = 1, AddPointer = 2, AddChecksum = 3;
    private const byte ZoneHigh = 1, ZoneFseg = 2;
    private const int HeaderChecksum = 9, XsdtEntries = 36;

    /// <summary>Adds the three files for <paramref name="tables"/>, which must be built at base address 0.</summary>
    public static void AddTo(FwCfg fwCfg, AcpiTableSet tables)
    {
        if (tables.RsdpGpa != 0)
        {
            throw new ArgumentException("the tables must be built at address 0, so their pointers are offsets", nameof(tables));
        }

        var script = new List<byte[]>
        {
            AllocateCommand(RsdpFile, 16, ZoneFseg),
            AllocateCommand(TablesFile, 64, ZoneHigh),
            PointerCommand(RsdpFile, TablesFile, Rsdp.XsdtAddress, 8),
        };
        foreach (var (signature, offset, length) in tables.Tables)
        {
            if (signature == Xsdt.Signature)
            {
                for (int entry = XsdtEntries; entry < length; entry += 8)
                {
                    script.Add(PointerCommand(TablesFile, TablesFile, (uint)offset + (uint)entry, 8));
                }
            }
            else if (signature == Fadt.Signature)
            {
                script.Add(PointerCommand(TablesFile, TablesFile, (uint)offset + Fadt.XDsdt, 8));
                script.Add(PointerCommand(TablesFile, TablesFile, (uint)offset + Fadt.Dsdt, 4));
            }
        }

        foreach (var (signature, offset, length) in tables.Tables.Where(t => t.Signature != "RSD PTR "))
        {
            script.Add(ChecksumCommand(TablesFile, (uint)offset + HeaderChecksum, (uint)offset, (uint)length));
        }

        script.Add(ChecksumCommand(RsdpFile, Rsdp.Checksum, 0, Rsdp.V1Length));
        script.Add(ChecksumCommand(RsdpFile, Rsdp.ExtendedChecksum, 0, Rsdp.Length));

        // The firmware sets each checksum byte to minus the sum of its range, that byte included (edk2 OvmfPkg
        // AcpiPlatformDxe QemuFwCfgAcpi.c, ProcessCmdAddChecksum), so the byte must be served as zero, as QEMU serves it.
        byte[] served = [.. tables.Bytes];
        foreach (var (signature, offset, _) in tables.Tables.Where(t => t.Signature != "RSD PTR "))
        {
            served[offset + HeaderChecksum] = 0;
        }

        byte[] rsdp = served[..Rsdp.Length];
        rsdp[Rsdp.Checksum] = rsdp[Rsdp.ExtendedChecksum] = 0;
        fwCfg.AddFile(RsdpFile, rsdp);
        fwCfg.AddFile(TablesFile, served);
        fwCfg.AddFile(LoaderFile, [.. script.SelectMany(c => c)]);
    }

    private static byte[] Command(uint command)
    {
        var c = new byte[CommandSize];
        BinaryPrimitives.WriteUInt32LittleEndian(c, command);
        return c;
    }

    private static void Name(byte[] command, int at, string file) => Encoding.ASCII.GetBytes(file).CopyTo(command, at);

    private static byte[] AllocateCommand(string file, uint alignment, byte zone)
    {
        var c = Command(Allocate);
        Name(c, 4, file);
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(4 + FileNameSize), alignment);
        c[4 + FileNameSize + 4] = zone;
        return c;
    }

    private static byte[] PointerCommand(string destination, string source, uint offset, byte size)
    {
        var c = Command(AddPointer);
        Name(c, 4, destination);
        Name(c, 4 + FileNameSize, source);
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(4 + (2 * FileNameSize)), offset);
        c[4 + (2 * FileNameSize) + 4] = size;
        return c;
    }

    private static byte[] ChecksumCommand(string file, uint result, uint start, uint length)
    {
        var c = Command(AddChecksum);
        Name(c, 4, file);
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(4 + FileNameSize), result);
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(4 + FileNameSize + 4), start);
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(4 + FileNameSize + 8), length);
        return c;
    }
}
