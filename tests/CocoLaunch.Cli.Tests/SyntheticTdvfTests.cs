using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// MRTD of small TDVF images built here, for the cases the Debian image cannot show: a PAGE.AUG section,
/// RawDataSize &lt; MemoryDataSize, and a CODE-only image with a separate vars file. Each expected value comes
/// from <see cref="ReferenceMrtd"/>, with the section list typed in by the test (tdx-mrtd.md §1.2, §4.1).
/// </summary>
public sealed class SyntheticTdvfTests
{
    private const int Size = 0x10000;
    private const ulong Top = 0x1_0000_0000;

    private static byte[] Image(uint bfvRaw, uint augAttributes)
    {
        var b = new OvmfImageBuilder(Size);
        var image = b.Tdvf(0x800,
        [
            new TdvfEntry(0x8000, bfvRaw, Top - Size + 0x8000, 0x4000, 0, 1),
            new TdvfEntry(0, 0, 0x80_9000, 0x2000, 2, 0),
            new TdvfEntry(0, 0, 0x80_0000, 0x6000, 3, 0),
            new TdvfEntry(0, 0, 0x81_0000, 0x4000, 3, augAttributes),
        ]).Build();
        for (int i = 0x8000; i < 0xC000; i++)
        {
            image[i] = (byte)(i * 7); // recognisable BFV bytes, also past a short RawDataSize
        }

        return image;
    }

    private static string Measure(TempDir dir, byte[] image, string measurement)
    {
        string fw = dir.Write("fw.fd", image);
        string spec = dir.Write("s.yaml", $"platform: tdx\nfirmware: {fw}\nmemory: 1G\ntdx:\n  measurement: {{ {measurement} }}\n");
        var result = CliRunner.Run("measure", spec);
        Assert.True(result.Exit == 0, result.Stderr);
        return result.Stdout.Trim();
    }

    private static ReferenceMrtd.Section Bfv(byte[] bfv) => new(Top - Size + 0x8000, 4, true, bfv);

    [Fact]
    public void PageAug_IgnoreAddsTheSection_SkipLeavesItOut()
    {
        using var dir = new TempDir();
        byte[] image = Image(0x4000, augAttributes: 2);
        var bfv = Bfv(image[0x8000..0xC000]);
        ReferenceMrtd.Section hob = new(0x80_9000, 2, false, null), temp = new(0x80_0000, 6, false, null), aug = new(0x81_0000, 4, false, null);

        Assert.Equal(ReferenceMrtd.Compute([bfv, hob, temp, aug]), Measure(dir, image, "page-aug: ignore"));
        Assert.Equal(ReferenceMrtd.Compute([bfv, hob, temp]), Measure(dir, image, "page-aug: skip"));
    }

    [Fact]
    public void ShortRawData_ImageBytesByDefault_ZerosUnderZeroFill()
    {
        using var dir = new TempDir();
        byte[] image = Image(0x3000, augAttributes: 0);
        ReferenceMrtd.Section hob = new(0x80_9000, 2, false, null), temp = new(0x80_0000, 6, false, null), last = new(0x81_0000, 4, false, null);
        byte[] zeroFilled = image[0x8000..0xC000];
        Array.Clear(zeroFilled, 0x3000, 0x1000);

        Assert.Equal(ReferenceMrtd.Compute([Bfv(image[0x8000..0xC000]), hob, temp, last]), Measure(dir, image, "short-section-data: image-bytes"));
        Assert.Equal(ReferenceMrtd.Compute([Bfv(zeroFilled), hob, temp, last]), Measure(dir, image, "short-section-data: zero-fill"));
    }

    [Fact]
    public void CodeOnlyPlusVars_MeasuresLikeTheCombinedImage()
    {
        using var dir = new TempDir();
        byte[] image = Image(0x4000, augAttributes: 0);
        string vars = dir.Write("vars.fd", image[..0x8000]);
        string code = dir.Write("code.fd", image[0x8000..]);
        var result = CliRunner.Run("measure", "--platform", "tdx", "--firmware", code, "--vars", vars);
        var combined = CliRunner.Run("measure", "--platform", "tdx", "--firmware", dir.Write("all.fd", image));
        Assert.Equal(0, result.Exit);
        Assert.Equal(combined.Stdout, result.Stdout);
        Assert.Equal(
            ReferenceMrtd.Compute([Bfv(image[0x8000..0xC000]), new(0x80_9000, 2, false, null), new(0x80_0000, 6, false, null), new(0x81_0000, 4, false, null)]),
            result.Stdout.Trim());
    }

    [Theory]
    [InlineData("overlap", "TDX section #2 (TempMem) GPA range [0x808000,0x80e000) overlaps TDX section #1 (TD_HOB) at [0x809000,0x80b000)")]
    [InlineData("misaligned", "TDX section #2 (TempMem) is not 4 KiB aligned (GPA 0x800800, memory size 0x6000)")]
    [InlineData("beyond", "TDX section #0 (BFV) data [0xf000,0x13000) lies beyond the end of the file (size 0x10000)")]
    [InlineData("count", "TDVF section count 4000 is too large")]
    [InlineData("length", "TDVF descriptor length 999 does not match its 4 sections (expected 16 + 32*4 = 144)")]
    public void BrokenMetadata_ExitsTwoNamingTheSection(string how, string expected)
    {
        using var dir = new TempDir();
        var sections = new TdvfEntry[]
        {
            new(0x8000, 0x4000, Top - Size + 0x8000, 0x4000, 0, 1),
            new(0, 0, 0x80_9000, 0x2000, 2, 0),
            new(0, 0, 0x80_0000, 0x6000, 3, 0),
            new(0, 0, 0x81_0000, 0x4000, 3, 0),
        };
        switch (how)
        {
            case "overlap": sections[2] = sections[2] with { Gpa = 0x80_8000 }; break;
            case "misaligned": sections[2] = sections[2] with { Gpa = 0x80_0800 }; break;
            case "beyond": sections[0] = sections[0] with { DataOffset = 0xF000 }; break;
        }

        byte[] image = new OvmfImageBuilder(Size).Tdvf(0x800, sections).Build();
        if (how == "count")
        {
            BitConverter.GetBytes(4000u).CopyTo(image, Size - 0x800 + 12);
        }
        else if (how == "length")
        {
            BitConverter.GetBytes(999u).CopyTo(image, Size - 0x800 + 4);
        }

        var result = CliRunner.Run("measure", "--platform", "tdx", "--firmware", dir.Write("fw.fd", image));
        Assert.Equal(2, result.Exit);
        Assert.Contains(expected, result.ErrorLine, StringComparison.Ordinal);
    }
}
