using CocoLaunch.Formats.Ovmf;
using CocoLaunch.Formats.Sev;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Formats.Tests;

/// <summary>The synthetic SNP images of shared/vectors/synthetic; expected values are that README's tables.</summary>
public sealed class SyntheticImageTests
{
    public static readonly TheoryData<string, uint, uint?, uint, uint> Images = new()
    {
        // image, AP reset EIP, hash table base (null = 0/0), ASEV offset from end, section count
        { "amdsev-like.fd", 0x0080A004, 0x80EC00, 0x5A4, 5 },
        { "ovmfx64-like.fd", 0x00803004, null, 0x6E0, 4 },
        { "caa.fd", 0x0080C804, null, 0x3F8, 6 },
        { "unordered.fd", 0x00810F0C, 0x80E400, 0x1024, 6 },
    };

    [Theory]
    [MemberData(nameof(Images))]
    public void Parse_SyntheticImage_ResetEipHashTableAndAsevLocation(string name, uint eip, uint? hashBase, uint asevFromEnd, uint count)
    {
        var image = FirmwareImage.Load(RepoPaths.Synthetic(name));
        var sev = OvmfFirmware.Parse(image).Sev.Value!;
        Assert.Equal(eip, sev.ApResetEip);
        Assert.Equal(hashBase ?? 0, sev.HashTable!.Base);
        Assert.Equal(image.Size - asevFromEnd, sev.Metadata!.Offset);
        Assert.Equal((int)count, sev.Metadata.Sections.Count);
    }

    [Fact]
    public void Parse_Unordered_KeepsTableOrderAndReportsUnknownEntry()
    {
        var fw = OvmfFirmware.Parse(FirmwareImage.Load(RepoPaths.Synthetic("unordered.fd")));
        var sev = fw.Sev.Value!;
        Assert.Equal(
            [(0x80F000u, 0x1000u, SevSectionType.Cpuid), (0x810000u, 0x8000u, SevSectionType.SnpSecMem), (0x80E000u, 0x1000u, SevSectionType.SnpKernelHashes),
             (0x80D000u, 0x1000u, SevSectionType.SnpSecrets), (0x800000u, 0x9000u, SevSectionType.SnpSecMem), (0x80A000u, 0x3000u, SevSectionType.SnpSecMem)],
            sev.Metadata!.Sections.Select(s => ((uint)s.Gpa.Value, s.Size, s.Type)));
        Assert.Equal(2, sev.HashTableSection!.Index);
        Assert.Null(sev.LaunchSecret);

        var table = fw.GuidTable!;
        Assert.Equal(119, table.Length);
        Assert.Equal(0x17FF69, table.Offset);
        var unknown = Assert.Single(table.Entries, e => e.Name is null);
        Assert.Equal(new Guid("c0c01a0c-5e5f-4d2b-8a61-73796e746831"), unknown.Guid);
        Assert.Equal(13, unknown.DataLength);
        var note = Assert.Single(fw.Notes);
        Assert.Equal(unknown.Offset, note.Offset);
        Assert.Equal("unknown OVMF GUID table entry c0c01a0c-5e5f-4d2b-8a61-73796e746831 with 13 data bytes (ignored)", note.Message);
    }

    [Fact]
    public void Parse_Caa_SvsmCaaSpansTwoPages()
    {
        var sev = OvmfFirmware.Parse(FirmwareImage.Load(RepoPaths.Synthetic("caa.fd"))).Sev.Value!;
        var caa = Assert.Single(sev.Metadata!.Sections, s => s.Type == SevSectionType.SvsmCaa);
        Assert.Equal((0x80F000UL, 0x2000u, 4), (caa.Gpa.Value, caa.Size, caa.Index));
    }

    [Fact]
    public void Parse_AmdSevLike_HashTableSitsAt0xC00OfKernelHashesPage()
    {
        var sev = OvmfFirmware.Parse(FirmwareImage.Load(RepoPaths.Synthetic("amdsev-like.fd"))).Sev.Value!;
        var section = sev.HashTableSection!;
        Assert.Equal(SevSectionType.SnpKernelHashes, section.Type);
        Assert.Equal(0x80E000UL, section.Gpa.Value);
        Assert.Equal(0xC00u, sev.HashTable!.Base & 0xFFF);
        Assert.Equal((0x80E000u, 0xC00u), (sev.LaunchSecret!.Base, sev.LaunchSecret.Size));
    }

    [Theory]
    [InlineData("amdsev-like.fd")]
    [InlineData("ovmfx64-like.fd")]
    [InlineData("caa.fd")]
    [InlineData("unordered.fd")]
    public void Parse_SyntheticImage_HasNoTdxMetadata(string name)
    {
        var fw = OvmfFirmware.Parse(FirmwareImage.Load(RepoPaths.Synthetic(name)));
        Assert.False(fw.Tdx.IsPresent);
    }
}
