using System.Buffers.Binary;

namespace CocoLaunch.Formats.Linux;

/// <summary>
/// A bzImage as the x86 boot protocol describes it (Documentation/arch/x86/boot.rst; linux-guest.md §2): the real-mode
/// setup sectors with the setup header at 0x1F1, then the protected-mode kernel. Only what a 64-bit loader needs is
/// read, each field checked where the protocol gives a rule.
/// </summary>
public sealed record BzImage
{
    // Setup header fields, as file offsets (the same offsets in boot_params).
    public const int SetupSectsAt = 0x1F1, BootFlagAt = 0x1FE, JumpAt = 0x200, HeaderMagicAt = 0x202, VersionAt = 0x206;
    public const int TypeOfLoaderAt = 0x210, LoadFlagsAt = 0x211, Code32StartAt = 0x214, RamdiskImageAt = 0x218, RamdiskSizeAt = 0x21C;
    public const int CmdLinePtrAt = 0x228, InitrdAddrMaxAt = 0x22C, KernelAlignmentAt = 0x230, RelocatableKernelAt = 0x234;
    public const int XLoadFlagsAt = 0x236, CmdlineSizeAt = 0x238, PrefAddressAt = 0x258, InitSizeAt = 0x260;

    /// <summary>The least protocol version read here: 2.12 brought xloadflags, which says whether a 64-bit entry exists.</summary>
    public const ushort MinVersion = 0x020C;

    public const ushort BootFlag = 0xAA55;
    public const uint HeaderMagic = 0x5372_6448; // "HdrS"
    public const byte LoadedHigh = 0x01;
    public const ushort XlfKernel64 = 0x01, XlfCanBeLoadedAbove4G = 0x02;

    /// <summary>The protected-mode kernel's 64-bit entry, from its load address (boot.rst "64-bit boot protocol").</summary>
    public const ulong Entry64Offset = 0x200;

    private BzImage()
    {
    }

    /// <summary>Real-mode setup sectors after the boot sector (0 means 4).</summary>
    public required int SetupSects { get; init; }

    public required ushort Version { get; init; }

    public required byte LoadFlags { get; init; }

    public required ushort XLoadFlags { get; init; }

    public required uint KernelAlignment { get; init; }

    public required bool Relocatable { get; init; }

    /// <summary>The highest address an initrd byte may occupy.</summary>
    public required uint InitrdAddrMax { get; init; }

    /// <summary>The longest command line, without its NUL.</summary>
    public required uint CmdlineSize { get; init; }

    public required ulong PrefAddress { get; init; }

    /// <summary>Bytes of RAM the kernel needs from its load address before it can set up its own memory.</summary>
    public required uint InitSize { get; init; }

    /// <summary>File bytes from 0x1F1 to the end of the setup header, which a loader copies into boot_params.</summary>
    public required ReadOnlyMemory<byte> SetupHeader { get; init; }

    /// <summary>The protected-mode kernel: the file from (setup_sects + 1) × 512 on.</summary>
    public required ReadOnlyMemory<byte> ProtectedModeKernel { get; init; }

    public string VersionText => $"{Version >> 8}.{Version & 0xFF}";

    /// <summary>Reads and checks the setup header; a <see cref="KernelFormatException"/> names the field and offset of a problem.</summary>
    public static BzImage Parse(ReadOnlyMemory<byte> image)
    {
        var b = image.Span;
        if (b.Length < HeaderMagicAt + 4)
        {
            throw new KernelFormatException(0, "setup header", $"the image has {b.Length} bytes, too few for a boot sector with a setup header (0x206)");
        }

        if (BinaryPrimitives.ReadUInt16LittleEndian(b[BootFlagAt..]) != BootFlag)
        {
            throw new KernelFormatException(BootFlagAt, "boot_flag", $"0x{BinaryPrimitives.ReadUInt16LittleEndian(b[BootFlagAt..]):x4}, not 0xaa55: not an x86 boot image");
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(b[HeaderMagicAt..]) != HeaderMagic)
        {
            throw new KernelFormatException(HeaderMagicAt, "header", "no \"HdrS\" magic: a kernel older than boot protocol 2.00, or not a kernel");
        }

        int headerEnd = JumpAt + 2 + b[JumpAt + 1];
        if (b.Length < headerEnd || headerEnd < InitSizeAt + 4)
        {
            throw new KernelFormatException(JumpAt + 1, "jump", $"the setup header ends at 0x{headerEnd:x}, before init_size (0x264) or past the file's {b.Length} bytes");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(b[VersionAt..]);
        if (version < MinVersion)
        {
            throw new KernelFormatException(VersionAt, "version", $"boot protocol {version >> 8}.{version & 0xFF}; a 64-bit entry needs 2.12 or later");
        }

        ushort xloadflags = BinaryPrimitives.ReadUInt16LittleEndian(b[XLoadFlagsAt..]);
        if ((xloadflags & XlfKernel64) == 0)
        {
            throw new KernelFormatException(XLoadFlagsAt, "xloadflags", $"0x{xloadflags:x}: XLF_KERNEL_64 is clear, so the kernel has no 64-bit entry");
        }

        byte loadflags = b[LoadFlagsAt];
        if ((loadflags & LoadedHigh) == 0)
        {
            throw new KernelFormatException(LoadFlagsAt, "loadflags", $"0x{loadflags:x}: LOADED_HIGH is clear (a zImage, loaded at 0x10000), which is not supported");
        }

        int setupSects = b[SetupSectsAt] == 0 ? 4 : b[SetupSectsAt];
        int pmOffset = (setupSects + 1) * 512;
        if (pmOffset >= b.Length)
        {
            throw new KernelFormatException(SetupSectsAt, "setup_sects", $"{setupSects} sectors put the protected-mode kernel at 0x{pmOffset:x}, past the file's {b.Length} bytes");
        }

        uint alignment = BinaryPrimitives.ReadUInt32LittleEndian(b[KernelAlignmentAt..]);
        if (alignment == 0 || (alignment & (alignment - 1)) != 0)
        {
            throw new KernelFormatException(KernelAlignmentAt, "kernel_alignment", $"0x{alignment:x} is not a power of two");
        }

        uint initSize = BinaryPrimitives.ReadUInt32LittleEndian(b[InitSizeAt..]);
        if (initSize < (uint)(b.Length - pmOffset))
        {
            throw new KernelFormatException(InitSizeAt, "init_size", $"0x{initSize:x} is smaller than the 0x{b.Length - pmOffset:x}-byte protected-mode kernel");
        }

        uint cmdlineSize = BinaryPrimitives.ReadUInt32LittleEndian(b[CmdlineSizeAt..]);
        return new BzImage
        {
            SetupSects = setupSects,
            Version = version,
            LoadFlags = loadflags,
            XLoadFlags = xloadflags,
            KernelAlignment = alignment,
            Relocatable = b[RelocatableKernelAt] != 0,
            InitrdAddrMax = BinaryPrimitives.ReadUInt32LittleEndian(b[InitrdAddrMaxAt..]),
            CmdlineSize = cmdlineSize,
            PrefAddress = BinaryPrimitives.ReadUInt64LittleEndian(b[PrefAddressAt..]),
            InitSize = initSize,
            SetupHeader = image[SetupSectsAt..headerEnd],
            ProtectedModeKernel = image[pmOffset..],
        };
    }
}
