using System.Security.Cryptography;
using CocoLaunch.Formats;
using CocoLaunch.Formats.Ovmf;
using CocoLaunch.Formats.Sev;
using CocoLaunch.Formats.Tdvf;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Formats.Tests;

/// <summary>
/// Debian ovmf 2022.11-6+deb12u2. Expected values are the hand-derived tables of
/// shared/spec/tdx-mrtd.md §5 (TDVF sections, GUID table) and snp-launch-digest.md §3.2 and §4.1
/// (SEV sections, AP reset EIP, table tail), checked against the bytes with xxd.
/// </summary>
public sealed class DebianOvmfTests
{
    // (type, DataOffset, RawDataSize, GPA, MemoryDataSize, Attributes) from tdx-mrtd.md §5.
    public static readonly TheoryData<int, TdvfSectionType, uint, uint, ulong, ulong, uint> TdvfSections = new()
    {
        { 0, TdvfSectionType.Bfv, 0x20000, 0x1E0000, 0xFFE20000, 0x1E0000, 1 },
        { 1, TdvfSectionType.Cfv, 0x0, 0x20000, 0xFFE00000, 0x20000, 0 },
        { 2, TdvfSectionType.TempMem, 0, 0, 0x810000, 0x10000, 0 },
        { 3, TdvfSectionType.TempMem, 0, 0, 0x80B000, 0x2000, 0 },
        { 4, TdvfSectionType.TdHob, 0, 0, 0x809000, 0x2000, 0 },
        { 5, TdvfSectionType.TempMem, 0, 0, 0x800000, 0x6000, 0 },
    };

    private static OvmfFirmware Ovmf => OvmfFirmware.Parse(FirmwareImage.Load(RepoPaths.OvmfFd));

    private static OvmfFirmware OvmfCode => OvmfFirmware.Parse(FirmwareImage.Load(RepoPaths.OvmfCodeFd));

    [Fact]
    public void Load_VendoredFiles_HaveTheDebianChecksums()
    {
        Assert.Equal("7b456907dd0786d415999e801a1ac4637b8ed4d7cf5378cfc6edbe5e574dd773", Sha256(RepoPaths.OvmfFd));
        Assert.Equal("d9b568def24088c92f34b5479e0ed7e44d0a4d4cea8a0f5716719180bba48106", Sha256(RepoPaths.OvmfCodeFd));
    }

    [Theory]
    [MemberData(nameof(TdvfSections))]
    public void Parse_OvmfFd_TdvfSectionMatchesSpecTable(int index, TdvfSectionType type, uint dataOffset, uint raw, ulong gpa, ulong mem, uint attributes)
    {
        var tdvf = Ovmf.Tdx.Value!;
        Assert.Equal(6, tdvf.Sections.Count);
        var s = tdvf.Sections[index];
        Assert.Equal((type, dataOffset, raw, gpa, mem, attributes), (s.Type, s.DataOffset, s.RawDataSize, s.MemoryAddress.Value, s.MemoryDataSize, (uint)s.Attributes));
    }

    [Fact]
    public void Parse_OvmfFd_DescriptorAt0x840FromTheEnd()
    {
        var tdvf = Ovmf.Tdx.Value!;
        Assert.Equal(0x1FF7C0, tdvf.DescriptorOffset);
        Assert.Equal(TdvfLocator.GuidTable, tdvf.Locator);
        Assert.Equal(1u, tdvf.Version);
        Assert.Equal(538L, tdvf.Sections.Sum(s => (long)s.PageCount)); // tdx-mrtd.md §2: 538 PAGE.ADDs
    }

    [Fact]
    public void Parse_OvmfFd_GuidTableHasFiveKnownEntriesIn136Bytes()
    {
        var table = Ovmf.GuidTable!;
        Assert.Equal(136, table.Length);
        Assert.Equal(0x200000 - 0x20 - 136, table.Offset);
        Assert.Equal(
            [OvmfGuids.TdxMetadataOffset, OvmfGuids.SevMetadataOffset, OvmfGuids.SevHashTable, OvmfGuids.SevLaunchSecret, OvmfGuids.SevEsResetBlock],
            table.Entries.Select(e => e.Guid));
        Assert.Equal([4, 4, 8, 8, 4], table.Entries.Select(e => e.DataLength));
        Assert.Empty(Ovmf.Notes);
    }

    [Fact]
    public void Parse_OvmfCodeFd_GuidTableEntryLengthsMatchSpecTail()
    {
        // snp-launch-digest.md §4.1: entry lengths 0x16, 0x1A, 0x1A, 0x16 and 0x16 (walking from the footer) total 118.
        var table = OvmfCode.GuidTable!;
        Assert.Equal([0x16, 0x16, 0x1A, 0x1A, 0x16], table.Entries.Select(e => e.DataLength + 18));
        Assert.Equal(0x1E0000 - 0x20 - 136, table.Offset);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Parse_DebianImages_SevMetadataMatchesSpec(bool codeOnly)
    {
        var sev = (codeOnly ? OvmfCode : Ovmf).Sev.Value!;
        Assert.Equal(
            [(0x800000u, 0x9000u, SevSectionType.SnpSecMem), (0x80A000u, 0x3000u, SevSectionType.SnpSecMem), (0x80D000u, 0x1000u, SevSectionType.SnpSecrets),
             (0x80E000u, 0x1000u, SevSectionType.Cpuid), (0x80F000u, 0x11000u, SevSectionType.SnpSecMem)],
            sev.Metadata!.Sections.Select(s => ((uint)s.Gpa.Value, s.Size, s.Type)));
        Assert.Equal(0x80B004u, sev.ApResetEip);
        Assert.True(sev.HashTable!.IsEmpty);
        Assert.True(sev.LaunchSecret!.IsEmpty);
        Assert.Null(sev.HashTableSection);
        Assert.Equal((codeOnly ? 0x1E0000 : 0x200000) - 0x52C, sev.Metadata.Offset);
    }

    [Fact]
    public void Parse_OvmfCodeFdAlone_TdxSectionZeroBeyondEndNamesTheVarsFile()
    {
        var fw = OvmfCode;
        Assert.Null(fw.Tdx.Value);
        var error = fw.Tdx.Error!;
        Assert.Equal(0x1DF7C0 + 16, error.Offset);
        Assert.Equal(
            "TDX section #0 (BFV) data [0x20000,0x200000) lies beyond the end of the file (size 0x1e0000); the metadata was written for a 0x200000-byte VARS+CODE image, "
            + "so this looks like a CODE-only file such as OVMF_CODE.fd: give the 0x20000-byte vars file too (firmware.vars in a launch spec, --vars for inspect)",
            error.Problem);
        Assert.NotNull(fw.Sev.Value);
    }

    [Fact]
    public void Load_CodeWithVars_EqualsUnifiedImageByteForByte()
    {
        var split = FirmwareImage.Load(RepoPaths.OvmfCodeFd, RepoPaths.OvmfVarsFd);
        Assert.Equal(0x20000, split.VarsSize);
        Assert.True(split.Bytes.Span.SequenceEqual(File.ReadAllBytes(RepoPaths.OvmfFd)));
        var tdvf = OvmfFirmware.Parse(split).Tdx.Value!;
        Assert.Equal(0x1FF7C0, tdvf.DescriptorOffset);
        Assert.Equal(0xFFE00000UL, split.LoadAddress.Value);
    }

    private static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
}
