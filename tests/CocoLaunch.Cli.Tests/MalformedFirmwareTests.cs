using System.Buffers.Binary;
using CocoLaunch.Tests.Shared;
using B = CocoLaunch.Tests.Shared.OvmfImageBuilder;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// Corrupt firmware images given to `inspect` fail with exit code 2 and one stderr line naming the file, the
/// offset and the structure. Images are 64 KiB builds of <see cref="OvmfImageBuilder"/>: the footer's u16 is at
/// 0xffce, a TDVF descriptor placed 0x800 from the end sits at 0xf800, an ASEV block 0x400 from the end at 0xfc00.
/// </summary>
public sealed class MalformedFirmwareTests
{
    private const int S = 0x10000;
    private const string Reset = "00f771de-1a7e-4fcb-890e-68c77e2fb44e";

    private static readonly Dictionary<string, (Func<byte[]> Build, string Expected)> Cases = new()
    {
        ["empty"] = (() => [], "firmware file is empty (0 bytes)"),
        ["not-whole-pages"] = (() => File.ReadAllBytes(RepoPaths.OvmfFd)[..100000], "firmware file size 100000 (0x186a0) is not a multiple of 4 KiB; firmware is mapped in whole pages (truncated file?)"),
        ["no-footer"] = (() => new byte[0x1000], "offset 0xfd0: no OVMF GUID table: expected the footer GUID 96b582de-1fb2-45f7-baea-a366c55a082d here, found 00000000-0000-0000-0000-000000000000 (not an OVMF image, or truncated)"),
        ["table-length-too-small"] = (() => Poke16(new B(S).Build(), 0xFFCE, 10), "offset 0xffce: OVMF GUID table length 10 is smaller than its own 18-byte footer entry"),
        ["table-length-past-start"] = (() => Poke16(new B(0x1000).Build(), 0xFCE, 0xFFFF), "offset 0xfce: OVMF GUID table length 0xffff reaches past the start of the file (the table would start at offset -0xf01f)"),
        ["entry-length-too-small"] = (() => Poke16(new B(S).Entry(B.ResetBlock, 1u).Build(), 0xFFBC, 4), $"offset 0xffbc: OVMF GUID table entry {Reset} has length 4, smaller than its 18-byte header"),
        ["entry-length-past-table"] = (() => Poke16(new B(S).Entry(B.ResetBlock, 1u).Build(), 0xFFBC, 0x100), $"offset 0xffbc: OVMF GUID table entry {Reset} has length 256, reaching past the start of the table at offset 0xffb8"),
        ["duplicate-entry"] = (() => new B(S).Entry(B.ResetBlock, 1u).Entry(B.ResetBlock, 2u).Build(), $"offset 0xffa6: OVMF GUID table has two entries with GUID {Reset} (the other at offset 0xffb8)"),
        ["tdx-entry-too-short"] = (() => new B(S).Entry(B.TdxOffset, new byte[2]).Build(), "offset 0xffba: OVMF GUID table entry 'TDX metadata offset' has 2 data bytes, too few for its fields (needs 4)"),
        ["tdx-offset-before-start"] = (() => new B(S).Entry(B.TdxOffset, 0x20000u).Build(), "offset 0xffb8: TDX metadata offset 0x20000 (counted from the end of the file) points before the start of the file (size 0x10000)"),
        ["tdx-guid-missing"] = (() => Clear(Tdvf(), 0xF7F0, 16), "offset 0xf7f0: expected the TDX metadata GUID e9eaf9f3-168e-44d5-a8eb-7f4d8738f6ae before the TDVF descriptor, found 00000000-0000-0000-0000-000000000000"),
        ["tdvf-signature"] = (() => Poke32(Tdvf(), 0xF800, 0x46564458), "offset 0xf800: TDVF descriptor signature is 0x46564458, expected 'TDVF' (0x46564454)"),
        ["tdvf-version"] = (() => Poke32(Tdvf(), 0xF808, 2), "offset 0xf808: TDVF descriptor version 2 is not supported (expected 1)"),
        ["tdvf-no-sections"] = (() => Poke32(Tdvf(), 0xF80C, 0), "offset 0xf80c: TDVF descriptor has no sections"),
        ["tdvf-count-too-large"] = (() => Poke32(Tdvf(), 0xF80C, 1000), "offset 0xf80c: TDVF section count 1000 is too large: 1000 entries would end at 0x17510, past the end of the file (size 0x10000)"),
        ["tdvf-length-mismatch"] = (() => Poke32(Tdvf(), 0xF804, 100), "offset 0xf804: TDVF descriptor length 100 does not match its 2 sections (expected 16 + 32*2 = 80)"),
        ["section-gpa-misaligned"] = (() => Tdvf(1, s => s with { Gpa = 0x80_0800 }), "offset 0xf830: TDX section #1 (TempMem) is not 4 KiB aligned (GPA 0x800800, memory size 0x2000)"),
        ["section-size-misaligned"] = (() => Tdvf(1, s => s with { MemSize = 0x1800 }), "offset 0xf830: TDX section #1 (TempMem) is not 4 KiB aligned (GPA 0x800000, memory size 0x1800)"),
        ["section-size-zero"] = (() => Tdvf(1, s => s with { MemSize = 0 }), "offset 0xf830: TDX section #1 (TempMem) has a memory size of 0"),
        ["section-wraps"] = (() => Tdvf(1, s => s with { Gpa = 0xFFFF_FFFF_FFFF_F000 }), "offset 0xf830: TDX section #1 (TempMem) GPA range starting at 0xfffffffffffff000 with size 0x2000 wraps past the top of the address space"),
        ["section-raw-larger"] = (() => Tdvf(0, s => s with { RawSize = 0x2000 }), "offset 0xf810: TDX section #0 (BFV) raw data size 0x2000 is larger than its memory size 0x1000"),
        ["bfv-no-raw"] = (() => Tdvf(0, s => s with { RawSize = 0 }), "offset 0xf810: TDX section #0 (BFV) has no raw data, but BFV and CFV sections are loaded from the image"),
        ["tempmem-with-raw"] = (() => Tdvf(1, s => s with { RawSize = 0x1000 }), "offset 0xf830: TDX section #1 (TempMem) has raw data size 0x1000, but TempMem sections hold no image data"),
        ["section-data-beyond-file"] = (() => Tdvf(0, s => s with { DataOffset = 0xF000, RawSize = 0x2000, MemSize = 0x2000, Gpa = 0x90_0000 }), "offset 0xf810: TDX section #0 (BFV) data [0xf000,0x11000) lies beyond the end of the file (size 0x10000)"),
        ["sections-overlap"] = (() => new B(S).Tdvf(0x800, [.. B.MinimalTdvf(S), new TdvfEntry(0, 0, 0x80_1000, 0x1000, 3, 0)]).Build(), "offset 0xf850: TDX section #2 (TempMem) GPA range [0x801000,0x802000) overlaps TDX section #1 (TempMem) at [0x800000,0x802000)"),
        ["asev-signature"] = (() => Poke32(Asev((0x80_0000, 0x1000, 1)), 0xFC00, 0x56455358), "offset 0xfc00: SEV metadata signature is 0x56455358, expected 'ASEV' (0x56455341)"),
        ["asev-version"] = (() => Poke32(Asev((0x80_0000, 0x1000, 1)), 0xFC08, 3), "offset 0xfc08: SEV metadata version 3 is not supported (expected 1)"),
        ["asev-count-too-large"] = (() => Poke32(Asev((0x80_0000, 0x1000, 1)), 0xFC0C, 5000), "offset 0xfc0c: SEV metadata section count 5000 is too large: 5000 descriptors would end at 0x1e670, past the end of the file (size 0x10000)"),
        ["asev-size-mismatch"] = (() => Poke32(Asev((0x80_0000, 0x1000, 1)), 0xFC04, 99), "offset 0xfc04: SEV metadata size 99 does not match its 1 sections (expected 16 + 12*1 = 28)"),
        ["asev-misaligned"] = (() => Asev((0x80_0100, 0x1000, 1)), "offset 0xfc10: SEV section #0 (SNP_SEC_MEM) is not 4 KiB aligned (GPA 0x800100, size 0x1000)"),
        ["asev-zero-size"] = (() => Asev((0x80_0000, 0, 1)), "offset 0xfc10: SEV section #0 (SNP_SEC_MEM) has a size of 0"),
        ["asev-overlap"] = (() => Asev((0x80_0000, 0x2000, 1), (0x80_1000, 0x1000, 2)), "offset 0xfc1c: SEV section #1 (SNP_SECRETS) range [0x801000,0x802000) overlaps SEV section #0 (SNP_SEC_MEM) at [0x800000,0x802000)"),
        ["asev-crosses-4g"] = (() => Asev((0xFFFF_F000, 0x2000, 1)), "offset 0xfc10: SEV section #0 (SNP_SEC_MEM) range [0xfffff000,0x100001000) crosses 4 GiB"),
        ["asev-offset-before-start"] = (() => new B(S).Entry(B.SevOffset, 0x20000u).Build(), "offset 0xffb8: SEV metadata offset 0x20000 (counted from the end of the file) points before the start of the file (size 0x10000)"),
        ["asev-header-past-end"] = (() => new B(S).Entry(B.SevOffset, 8u).Build(), "offset 0xfff8: SEV metadata header at 0xfff8 runs past the end of the file (size 0x10000)"),
        ["hash-table-entry-short"] = (() => new B(S).Entry(B.HashTable, 0x80_0000u).Build(), "offset 0xffb8: OVMF GUID table entry 'SEV hash table' has 4 data bytes, too few for its fields (needs 8)"),
    };

    public static TheoryData<string> Names => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(Names))]
    public void Inspect_CorruptImage_ExitsTwoNamingFileOffsetAndStructure(string name)
    {
        using var dir = new TempDir();
        var (build, expected) = Cases[name];
        string file = dir.Write(name + ".fd", build());

        var result = CliRunner.Run("inspect", file);

        Assert.Equal(2, result.Exit);
        Assert.Equal($"cocolaunch: {file}: {expected}", result.ErrorLine);
    }

    [Fact]
    public void Inspect_OvmfCodeAlone_ExitsTwoSuggestingTheVarsFile()
    {
        var result = CliRunner.Run("inspect", RepoPaths.OvmfCodeFd);
        Assert.Equal(2, result.Exit);
        Assert.Equal(
            $"cocolaunch: {RepoPaths.OvmfCodeFd}: offset 0x1df7d0: TDX section #0 (BFV) data [0x20000,0x200000) lies beyond the end of the file (size 0x1e0000); "
            + "the metadata was written for a 0x200000-byte VARS+CODE image, so this looks like a CODE-only file such as OVMF_CODE.fd: give the 0x20000-byte vars file too (firmware.vars in a launch spec, --vars for inspect)",
            result.ErrorLine);
        Assert.Contains("TDX metadata: unusable: offset 0x1df7d0: TDX section #0 (BFV)", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Inspect_OvmfCodeAloneForSnp_ExitsZero()
    {
        var result = CliRunner.Run("inspect", RepoPaths.OvmfCodeFd, "--platform", "snp");
        Assert.Equal((0, string.Empty), (result.Exit, result.Stderr));
    }

    [Fact]
    public void Inspect_Truncated1MiBPrefixOfOvmf_ReportsMissingFooter()
    {
        using var dir = new TempDir();
        byte[] prefix = File.ReadAllBytes(RepoPaths.OvmfFd)[..0x100000];
        string file = dir.Write("prefix.fd", prefix);
        var found = new Guid(prefix.AsSpan(0x100000 - 48, 16));

        var result = CliRunner.Run("inspect", file);

        Assert.Equal(2, result.Exit);
        Assert.Equal($"cocolaunch: {file}: offset 0xfffd0: no OVMF GUID table: expected the footer GUID 96b582de-1fb2-45f7-baea-a366c55a082d here, found {found} (not an OVMF image, or truncated)", result.ErrorLine);
    }

    [Fact]
    public void Inspect_Directory_ExitsTwo()
    {
        using var dir = new TempDir();
        var result = CliRunner.Run("inspect", dir.Path);
        Assert.Equal((2, $"cocolaunch: {dir.Path}: is a directory, not a firmware file"), (result.Exit, result.ErrorLine));
    }

    [Fact]
    public void Inspect_SymlinkToFirmware_ReadsTheTarget()
    {
        using var dir = new TempDir();
        string link = Path.Combine(dir.Path, "OVMF.fd");
        File.CreateSymbolicLink(link, RepoPaths.OvmfFd);
        var result = CliRunner.Run("inspect", link);
        Assert.Equal((0, string.Empty), (result.Exit, result.Stderr));
        Assert.Contains("sha256:   7b456907dd0786d415999e801a1ac4637b8ed4d7cf5378cfc6edbe5e574dd773", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Inspect_MissingFile_ExitsTwo()
    {
        using var dir = new TempDir();
        string file = Path.Combine(dir.Path, "absent.fd");
        var result = CliRunner.Run("inspect", file);
        Assert.Equal((2, $"cocolaunch: {file}: no such firmware file"), (result.Exit, result.ErrorLine));
    }

    [Fact]
    public void Inspect_OversizedFile_IsRefusedWithoutReading()
    {
        using var dir = new TempDir();
        string file = Path.Combine(dir.Path, "disk.img");
        using (var stream = File.Create(file))
        {
            stream.SetLength(65L << 20);
        }

        var result = CliRunner.Run("inspect", file);
        Assert.Equal((2, $"cocolaunch: {file}: firmware file is 68157440 bytes, more than the 64 MiB a firmware image may have"), (result.Exit, result.ErrorLine));
    }

    [Fact]
    public void Inspect_VarsNotWholePages_NamesTheVarsFile()
    {
        using var dir = new TempDir();
        string vars = dir.Write("vars.fd", new byte[100]);
        var result = CliRunner.Run("inspect", RepoPaths.OvmfCodeFd, "--vars", vars);
        Assert.Equal((2, $"cocolaunch: {vars}: vars file size 100 (0x64) is not a multiple of 4 KiB; firmware is mapped in whole pages (truncated file?)"), (result.Exit, result.ErrorLine));
    }

    [Fact]
    public void Inspect_UnknownTdvfType_ListsItAsANoteAndExitsZero()
    {
        using var dir = new TempDir();
        string file = dir.Write("t.fd", Tdvf(1, s => s with { Type = 0x1F }));
        var result = CliRunner.Run("inspect", file);
        Assert.Equal(0, result.Exit);
        Assert.Contains("  offset 0xf830: TDX section #1 (unknown(0x1f)) has an unknown type; a launch that measures this image will reject it", result.Stdout, StringComparison.Ordinal);
    }

    private static byte[] Tdvf() => new B(S).Tdvf(0x800, B.MinimalTdvf(S)).Build();

    private static byte[] Tdvf(int index, Func<TdvfEntry, TdvfEntry> change)
    {
        var sections = B.MinimalTdvf(S);
        sections[index] = change(sections[index]);
        return new B(S).Tdvf(0x800, sections).Build();
    }

    private static byte[] Asev(params (uint, uint, uint)[] sections) => new B(S).Asev(0x400, sections).Build();

    private static byte[] Poke16(byte[] image, int at, ushort value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(at), value);
        return image;
    }

    private static byte[] Poke32(byte[] image, int at, uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(at), value);
        return image;
    }

    private static byte[] Clear(byte[] image, int at, int length)
    {
        image.AsSpan(at, length).Clear();
        return image;
    }
}
