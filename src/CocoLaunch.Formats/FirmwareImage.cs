using CocoLaunch.Abi;

namespace CocoLaunch.Formats;

/// <summary>A firmware image as the VMM maps it: one file, or a VARS file followed by a CODE file, ending at 4 GiB.</summary>
public sealed class FirmwareImage
{
    /// <summary>A sanity bound so that a wrong path (a disk image, say) is refused rather than read into memory.</summary>
    public const long MaxSize = 64L << 20;

    private FirmwareImage(string name, byte[] bytes, int varsSize)
    {
        Name = name;
        Bytes = bytes;
        VarsSize = varsSize;
    }

    /// <summary>How messages name the image: the file name, or "VARS+CODE" names for a split image.</summary>
    public string Name { get; }

    public ReadOnlyMemory<byte> Bytes { get; }

    public int Size => Bytes.Length;

    /// <summary>Bytes of the image that came from a separate vars file (0 when there is none).</summary>
    public int VarsSize { get; }

    /// <summary>GPA of the image's first byte: the image is placed so that it ends at 4 GiB.</summary>
    public Gpa LoadAddress => new(Gpa.FourGiB.Value - (ulong)Size);

    public Gpa GpaOf(long offset) => new(LoadAddress.Value + (ulong)offset);

    public static FirmwareImage FromBytes(string name, byte[] bytes) => new(name, bytes, 0);

    /// <summary>Reads a firmware file, optionally preceded by a separate vars file (the unified OVMF.fd is VARS then CODE).</summary>
    /// <exception cref="FirmwareFileException">A file is missing, a directory, empty, too large or not whole pages.</exception>
    public static FirmwareImage Load(string codePath, string? varsPath = null)
    {
        byte[] code = ReadWholePages(codePath, "firmware");
        if (varsPath is null)
        {
            return new FirmwareImage(codePath, code, 0);
        }

        byte[] vars = ReadWholePages(varsPath, "vars");
        if ((long)vars.Length + code.Length > MaxSize)
        {
            throw new FirmwareFileException(codePath, $"vars and code together are {vars.Length + (long)code.Length} bytes, more than the {MaxSize >> 20} MiB a firmware image may have");
        }

        byte[] all = new byte[vars.Length + code.Length];
        vars.CopyTo(all, 0);
        code.CopyTo(all, vars.Length);
        return new FirmwareImage($"{varsPath}+{codePath}", all, vars.Length);
    }

    private static byte[] ReadWholePages(string path, string what)
    {
        try
        {
            Abi.IO.InputFile.CheckRegular(path, what);
        }
        catch (Abi.IO.InputFileException e)
        {
            throw new FirmwareFileException(path, e.Problem);
        }

        // Resolve links first: FileInfo on a symlink describes the link, not the image it names.
        var info = new FileInfo(path);
        if (info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo target)
        {
            info = target;
        }

        if (!info.Exists)
        {
            throw new FirmwareFileException(path, $"no such {what} file");
        }

        if (info.Length == 0)
        {
            throw new FirmwareFileException(path, $"{what} file is empty (0 bytes)");
        }

        if (info.Length > MaxSize)
        {
            throw new FirmwareFileException(path, $"{what} file is {info.Length} bytes, more than the {MaxSize >> 20} MiB a firmware image may have");
        }

        if (!PageSize.IsAligned4K((ulong)info.Length))
        {
            throw new FirmwareFileException(path, $"{what} file size {info.Length} (0x{info.Length:x}) is not a multiple of 4 KiB; firmware is mapped in whole pages (truncated file?)");
        }

        try
        {
            return Abi.IO.InputFile.ReadAllBytes(path, MaxSize, what);
        }
        catch (Abi.IO.InputFileException e)
        {
            throw new FirmwareFileException(path, e.Problem);
        }
    }
}
