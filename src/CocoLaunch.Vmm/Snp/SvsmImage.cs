using System.Buffers.Binary;
using CocoLaunch.Abi;
using CocoLaunch.Formats;
using CocoLaunch.Formats.Ovmf;
using CocoLaunch.Formats.Sev;
using CocoLaunch.Spec;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Vmm.Snp;

/// <summary>
/// A COCONUT-SVSM image as QEMU loads it for SNP: ending just below the firmware's variable store, with an OVMF-style
/// GUIDed footer table whose SEV metadata names the SVSM's own pre-validated, secrets, CPUID and CAA pages, and an
/// SVSM_INFO entry whose first four bytes are the entry point's offset in the image.
/// </summary>
internal sealed class SvsmImage
{
    /// <summary>The footer-table entry of the SVSM's launch information (COCONUT-SVSM's igvm/stage1 layout).</summary>
    public static readonly Guid SvsmInfo = new("a789a612-0597-4c4b-a49f-cbb1fe9d1ddd");

    private SvsmImage(FirmwareImage image, Gpa gpa, SevFirmwareInfo sev, uint entry)
    {
        Image = image;
        Gpa = gpa;
        Sev = sev;
        Entry = entry;
    }

    public FirmwareImage Image { get; }

    /// <summary>Where the image's first byte goes.</summary>
    public Gpa Gpa { get; }

    /// <summary>The SVSM's SEV metadata: the sections the launch measures, in place of the firmware's.</summary>
    public SevFirmwareInfo Sev { get; }

    /// <summary>Where every vCPU's VMSA starts (32-bit, flat).</summary>
    public uint Entry { get; }

    /// <summary>Bytes the SVSM and the variable-store gap take below the firmware.</summary>
    public static ulong Extent(SvsmSpec svsm) => svsm.VarsSize + (ulong)new FileInfo(svsm.Path).Length;

    public static SvsmImage Load(SvsmSpec svsm, Gpa firmwareLoad)
    {
        var image = FirmwareImage.FromBytes(svsm.Path, Abi.IO.InputFile.ReadAllBytes(svsm.Path, FirmwareImage.MaxSize, "SVSM"));
        if (image.Size % (int)PageSize.Size4K != 0)
        {
            throw new LaunchException($"{svsm.Path}: the SVSM is {image.Size} bytes, not whole 4 KiB pages");
        }

        var gpa = new Gpa(firmwareLoad.Value - svsm.VarsSize - (ulong)image.Size);
        var parsed = OvmfFirmware.Parse(image);
        var sev = parsed.Sev.Value is { Metadata: not null } info ? info
            : throw new LaunchException($"{svsm.Path}: the SVSM has no SEV metadata{(parsed.Sev.Error is { } e ? ": " + e.Describe(svsm.Path) : string.Empty)}");
        var entry = parsed.GuidTable?.Find(SvsmInfo) is { DataLength: >= 4 } info4
            ? BinaryPrimitives.ReadUInt32LittleEndian(image.Bytes.Span.Slice((int)info4.Offset, 4))
            : throw new LaunchException($"{svsm.Path}: the SVSM's footer table has no SVSM_INFO entry ({SvsmInfo}) with its entry point");
        if (entry >= (ulong)image.Size)
        {
            throw new LaunchException($"{svsm.Path}: SVSM_INFO's entry offset 0x{entry:x} lies outside the {image.Size}-byte image");
        }

        return new SvsmImage(image, gpa, sev, (uint)(gpa.Value + entry));
    }
}
