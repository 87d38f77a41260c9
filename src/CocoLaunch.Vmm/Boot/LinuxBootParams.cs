using System.Buffers.Binary;
using CocoLaunch.Formats.Linux;

namespace CocoLaunch.Vmm.Boot;

/// <summary>One e820 entry: type 1 RAM, 2 reserved, 3 ACPI, 4 NVS.</summary>
public readonly record struct E820Entry(ulong Address, ulong Size, uint Type)
{
    public const uint Ram = 1, Reserved = 2;
}

/// <summary>
/// The zero page (<c>struct boot_params</c>, 4 KiB) a 64-bit loader hands the kernel in RSI (boot.rst; linux-guest.md
/// §2 "Zero page"): the image's setup header copied in, then the loader's fields.
/// </summary>
public static class LinuxBootParams
{
    public const int Size = 4096;

    // Zero-page offsets of the fields a loader writes (arch/x86/include/uapi/asm/bootparam.h).
    public const int AcpiRsdpAddrAt = 0x070, ExtRamdiskImageAt = 0x0C0, ExtRamdiskSizeAt = 0x0C4, ExtCmdLinePtrAt = 0x0C8;
    public const int E820EntriesAt = 0x1E8, SentinelAt = 0x1EF, E820TableAt = 0x2D0, E820MaxEntries = 128, E820EntrySize = 20;
    public const int HardwareSubarchAt = 0x23C;

    /// <summary>type_of_loader 0xFF: "undefined" loader; any non-zero value makes reserve_initrd keep the initrd.</summary>
    public const byte UndefinedLoader = 0xFF;

    public static byte[] Build(BzImage kernel, ulong cmdlineGpa, ulong initrdGpa, ulong initrdSize, IReadOnlyList<E820Entry> e820, ulong acpiRsdpGpa = 0)
    {
        if (e820.Count is < 2 or > E820MaxEntries)
        {
            // e820__memory_setup_default falls back to BIOS-e801 below two entries.
            throw new ArgumentException($"the e820 map needs 2 to {E820MaxEntries} entries, not {e820.Count}", nameof(e820));
        }

        return BuildCore(kernel, cmdlineGpa, initrdGpa, initrdSize, e820, acpiRsdpGpa);
    }

    /// <summary>A zero page whose e820 map a firmware fills in (from the TD HOB), everything else as <see cref="Build"/>.</summary>
    public static byte[] BuildWithoutE820(BzImage kernel, ulong cmdlineGpa, ulong initrdGpa, ulong initrdSize, ulong acpiRsdpGpa) =>
        BuildCore(kernel, cmdlineGpa, initrdGpa, initrdSize, [], acpiRsdpGpa);

    private static byte[] BuildCore(BzImage kernel, ulong cmdlineGpa, ulong initrdGpa, ulong initrdSize, IReadOnlyList<E820Entry> e820, ulong acpiRsdpGpa)
    {
        var page = new byte[Size];
        var b = page.AsSpan();
        kernel.SetupHeader.Span.CopyTo(b[BzImage.SetupSectsAt..]);
        b[BzImage.TypeOfLoaderAt] = UndefinedLoader;
        b[BzImage.LoadFlagsAt] |= BzImage.LoadedHigh;
        BinaryPrimitives.WriteUInt32LittleEndian(b[BzImage.RamdiskImageAt..], (uint)initrdGpa);
        BinaryPrimitives.WriteUInt32LittleEndian(b[ExtRamdiskImageAt..], (uint)(initrdGpa >> 32));
        BinaryPrimitives.WriteUInt32LittleEndian(b[BzImage.RamdiskSizeAt..], (uint)initrdSize);
        BinaryPrimitives.WriteUInt32LittleEndian(b[ExtRamdiskSizeAt..], (uint)(initrdSize >> 32));
        BinaryPrimitives.WriteUInt32LittleEndian(b[BzImage.CmdLinePtrAt..], (uint)cmdlineGpa);
        BinaryPrimitives.WriteUInt32LittleEndian(b[ExtCmdLinePtrAt..], (uint)(cmdlineGpa >> 32));
        BinaryPrimitives.WriteUInt32LittleEndian(b[HardwareSubarchAt..], 0); // PC
        BinaryPrimitives.WriteUInt64LittleEndian(b[AcpiRsdpAddrAt..], acpiRsdpGpa); // no EFI and no BIOS scan: where the tables are
        b[SentinelAt] = 0; // else sanitize_boot_params wipes acpi_rsdp_addr and the ext_* fields
        b[E820EntriesAt] = (byte)e820.Count;
        for (int i = 0; i < e820.Count; i++)
        {
            var entry = b.Slice(E820TableAt + (i * E820EntrySize), E820EntrySize);
            BinaryPrimitives.WriteUInt64LittleEndian(entry, e820[i].Address);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[8..], e820[i].Size);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[16..], e820[i].Type);
        }

        return page;
    }
}
