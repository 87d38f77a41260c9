using System.Buffers.Binary;
using CocoLaunch.Formats.Linux;
using CocoLaunch.Spec;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Vmm.Boot;

/// <summary>
/// The kernel as QEMU serves it over fw_cfg for a direct boot (FW_CFG_SETUP_DATA then FW_CFG_KERNEL_DATA, which OVMF
/// joins into the image it loads and measures). QEMU 7.2's x86_load_linux (hw/i386/x86.c) writes boot-protocol fields
/// into the setup header first, unless the guest is SEV; the initrd address it writes depends on guest RAM below 4 GiB,
/// so the firmware's Authenticode digest of the kernel does too (tdx-mrtd.md §6.4).
/// </summary>
public static class QemuLinuxLoader
{
    /// <summary>q35's pcmc->acpi_data_size in QEMU 7.2 (hw/i386/pc.c): RAM QEMU keeps free under the top for ACPI.</summary>
    private const uint Q35AcpiDataSize = 0x20000 + 0x8000;

    /// <summary>Where QEMU puts the command line and the real-mode setup for a protocol ≥ 2.02 kernel.</summary>
    private const uint CmdlineAddress = 0x20000, RealModeAddress = 0x10000;

    private const byte QemuLoaderType = 0xB0, CanUseHeap = 0x80;
    private const int HeapEndPtrAt = 0x224, VidModeAt = 0x1FA;

    /// <summary>The image the firmware measures: <paramref name="kernel"/> with the header fields QEMU writes.</summary>
    /// <remarks>It patches the caller's array in place and returns it: a kernel is held once, not once more per step.</remarks>
    public static byte[] PatchKernelInPlace(Spec.QemuKernelPatch patch, byte[] kernel, ulong initrdSize, string cmdline, ulong ramSize)
    {
        var header = BzImage.Parse(kernel);
        var image = kernel;
        if (patch == Spec.QemuKernelPatch.Unpatched)
        {
            return image;
        }

        if (header.Version < 0x0202 || (header.LoadFlags & BzImage.LoadedHigh) == 0)
        {
            throw new KernelFormatException(BzImage.VersionAt, "version", $"boot protocol {header.VersionText} without LOADED_HIGH: QEMU loads it low, which this model does not cover");
        }

        var span = image.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(span[BzImage.CmdLinePtrAt..], CmdlineAddress);
        if (VgaMode(cmdline) is { } mode)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(span[VidModeAt..], mode);
        }

        span[BzImage.TypeOfLoaderAt] = QemuLoaderType;
        span[BzImage.LoadFlagsAt] |= CanUseHeap;
        BinaryPrimitives.WriteUInt16LittleEndian(span[HeapEndPtrAt..], (ushort)(CmdlineAddress - RealModeAddress - 0x200));
        if (initrdSize > 0)
        {
            uint max = InitrdMax(header, ramSize);
            if (initrdSize >= max)
            {
                throw new LaunchException($"initrd: {initrdSize} bytes do not fit below QEMU's initrd limit 0x{max:x} for {ramSize >> 20} MiB of RAM");
            }

            BinaryPrimitives.WriteUInt32LittleEndian(span[BzImage.RamdiskImageAt..], (uint)((max - initrdSize) & ~4095UL));
            BinaryPrimitives.WriteUInt32LittleEndian(span[BzImage.RamdiskSizeAt..], (uint)initrdSize);
        }

        return image;
    }

    /// <summary>The highest initrd byte: the kernel's own limit, clipped under q35's low RAM less the ACPI reserve.</summary>
    private static uint InitrdMax(BzImage header, ulong ramSize)
    {
        uint max = header.Version >= 0x020C && (header.XLoadFlags & BzImage.XlfCanBeLoadedAbove4G) != 0 ? uint.MaxValue : header.InitrdAddrMax;
        ulong below4G = ramSize >= 0xB000_0000 ? 0x8000_0000 : ramSize;
        ulong ceiling = below4G - Q35AcpiDataSize;
        return max >= ceiling ? (uint)(ceiling - 1) : max;
    }

    /// <summary>The "vga=" value QEMU writes to vid_mode: normal, ext, ask, or a number.</summary>
    private static ushort? VgaMode(string cmdline)
    {
        int at = cmdline.IndexOf("vga=", StringComparison.Ordinal);
        if (at < 0)
        {
            return null;
        }

        string value = cmdline[(at + 4)..].Split(' ')[0];
        return value switch
        {
            _ when value.StartsWith("normal", StringComparison.Ordinal) => 0xFFFF,
            _ when value.StartsWith("ext", StringComparison.Ordinal) => 0xFFFE,
            _ when value.StartsWith("ask", StringComparison.Ordinal) => 0xFFFD,
            _ => ParseMode(value),
        };
    }

    private static ushort ParseMode(string value)
    {
        bool hex = value.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
        return uint.TryParse(hex ? value[2..] : value, hex ? System.Globalization.NumberStyles.HexNumber : System.Globalization.NumberStyles.None, null, out uint mode)
            ? (ushort)mode
            : throw new LaunchException($"cmdline: 'vga={value}' is not a mode QEMU accepts (normal, ext, ask or a number)");
    }
}
