using CocoLaunch.Vmm.Devices;

namespace CocoLaunch.Vmm.Acpi.Q35;

/// <summary>
/// The three fw_cfg files QEMU 7.2 serves a q35 guest booted by OVMF (hw/i386/acpi-build.c acpi_build): the tables,
/// the table-loader script that places and links them, and the RSDP. Pointers inside hold offsets in their target
/// file and checksum bytes hold 0: the script's ADD_POINTER and ADD_CHECKSUM commands fix both in the guest.
/// </summary>
public sealed record QemuAcpiFiles(byte[] Tables, byte[] TableLoader, byte[] Rsdp)
{
    /// <summary>
    /// Serves the three files under QEMU's names; the first time the guest selects one of them they are rebuilt by
    /// <paramref name="rebuild"/>, as QEMU rebuilds its tables then (hw/i386/acpi-build.c acpi_build_update), when
    /// the firmware has programmed what they describe (PCIEXBAR). The rebuilt files keep their sizes.
    /// </summary>
    public void AddTo(FwCfg fwCfg, Func<QemuAcpiFiles> rebuild)
    {
        ArgumentNullException.ThrowIfNull(fwCfg);
        ArgumentNullException.ThrowIfNull(rebuild);
        bool built = false;
        void FirstSelect()
        {
            if (built)
            {
                return;
            }

            built = true;
            QemuAcpiFiles files = rebuild();
            fwCfg.UpdateFile(QemuTableLoaderScript.RsdpFile, files.Rsdp);
            fwCfg.UpdateFile(QemuTableLoaderScript.TablesFile, files.Tables);
            fwCfg.UpdateFile(QemuTableLoaderScript.LoaderFile, files.TableLoader);
        }

        fwCfg.AddFile(QemuTableLoaderScript.RsdpFile, Rsdp, FirstSelect);
        fwCfg.AddFile(QemuTableLoaderScript.TablesFile, Tables, FirstSelect);
        fwCfg.AddFile(QemuTableLoaderScript.LoaderFile, TableLoader, FirstSelect);
    }
}

/// <summary>
/// Lays out QEMU 7.2's q35 tables for a machine shape, in QEMU's order: FACS (first, so the 64-byte alignment of the
/// allocation aligns it), DSDT, FACP, APIC, HPET, MCFG, WAET, RSDT, each directly after the last, and pads the file
/// to 128 KiB (ACPI_BUILD_TABLE_SIZE) so it keeps its size across rebuilds.
/// </summary>
public static class Q35AcpiBuild
{
    /// <summary>ACPI_BUILD_TABLE_SIZE in hw/i386/acpi-build.c.</summary>
    public const int TablesFileAlignment = 0x20000;

    private const string TablesFile = QemuTableLoaderScript.TablesFile, RsdpFile = QemuTableLoaderScript.RsdpFile;

    /// <exception cref="ArgumentOutOfRangeException">The CPU count is outside 1..<see cref="Q35MachineShape.MaxCpus"/>.</exception>
    public static QemuAcpiFiles Build(Q35MachineShape shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentOutOfRangeException.ThrowIfLessThan(shape.Cpus, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(shape.Cpus, Q35MachineShape.MaxCpus);

        var tables = new List<byte>();
        var script = new List<byte[]>
        {
            TableLoaderCommand.Allocate(RsdpFile, 16, TableLoaderCommand.ZoneFseg),
            TableLoaderCommand.Allocate(TablesFile, Facs.Alignment, TableLoaderCommand.ZoneHigh),
        };

        uint Append(byte[] table, bool checksummed = true, params (int Offset, byte Size)[] pointers)
        {
            uint at = (uint)tables.Count;
            tables.AddRange(table);
            foreach (var (offset, size) in pointers)
            {
                script.Add(TableLoaderCommand.AddPointer(TablesFile, TablesFile, at + (uint)offset, size));
            }

            if (checksummed)
            {
                script.Add(TableLoaderCommand.AddChecksum(TablesFile, at + SystemDescriptionTable.Checksum, at, (uint)table.Length));
            }

            return at;
        }

        uint facs = Append(Facs.Build(), checksummed: false);
        uint dsdt = Append(Q35Dsdt.Build(shape));
        uint[] rsdtEntries =
        [
            Append(Q35Fadt.Build(facs, dsdt), true, (Q35Fadt.FirmwareCtrl, 4), (Q35Fadt.Dsdt, 4), (Q35Fadt.XDsdt, 8)),
            Append(Q35Madt.Build(shape.Cpus)),
            Append(Hpet.Build()),
            Append(Mcfg.Build(shape.EcamBase, (int)(Q35MachineShape.EcamSize >> 20))),
            Append(Waet.Build()),
        ];
        uint rsdt = Append(Rsdt.Build(rsdtEntries), true, [.. rsdtEntries.Select((_, i) => (Rsdt.EntryOffset(i), (byte)Rsdt.EntrySize))]);

        script.Add(TableLoaderCommand.AddPointer(RsdpFile, TablesFile, Rsdp.RsdtAddress, 4));
        script.Add(TableLoaderCommand.AddChecksum(RsdpFile, Rsdp.Checksum, 0, RsdpV1.Length));

        return new QemuAcpiFiles(Padded([.. tables], TablesFileAlignment), Padded([.. script.SelectMany(c => c)], TableLoaderCommand.ScriptAlignment), RsdpV1.Build(rsdt));
    }

    private static byte[] Padded(byte[] bytes, int alignment)
    {
        var padded = new byte[(bytes.Length + alignment - 1) / alignment * alignment];
        bytes.CopyTo(padded, 0);
        return padded;
    }
}
