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
            TableLoaderCommand.Allocate(RsdpFile, 16, TableLoaderCommand.ZoneFseg),
            TableLoaderCommand.Allocate(TablesFile, 64, TableLoaderCommand.ZoneHigh),
            TableLoaderCommand.AddPointer(RsdpFile, TablesFile, Rsdp.XsdtAddress, 8),
        };
        foreach (var (signature, offset, length) in tables.Tables)
        {
            if (signature == Xsdt.Signature)
            {
                for (int entry = XsdtEntries; entry < length; entry += 8)
                {
                    script.Add(TableLoaderCommand.AddPointer(TablesFile, TablesFile, (uint)offset + (uint)entry, 8));
                }
            }
            else if (signature == Fadt.Signature)
            {
                script.Add(TableLoaderCommand.AddPointer(TablesFile, TablesFile, (uint)offset + Fadt.XDsdt, 8));
                script.Add(TableLoaderCommand.AddPointer(TablesFile, TablesFile, (uint)offset + Fadt.Dsdt, 4));
            }
        }

        foreach (var (signature, offset, length) in tables.Tables.Where(t => t.Signature != "RSD PTR "))
        {
            script.Add(TableLoaderCommand.AddChecksum(TablesFile, (uint)offset + HeaderChecksum, (uint)offset, (uint)length));
        }

        script.Add(TableLoaderCommand.AddChecksum(RsdpFile, Rsdp.Checksum, 0, Rsdp.V1Length));
        script.Add(TableLoaderCommand.AddChecksum(RsdpFile, Rsdp.ExtendedChecksum, 0, Rsdp.Length));

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
}
