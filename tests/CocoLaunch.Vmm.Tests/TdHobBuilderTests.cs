using CocoLaunch.Formats;
using CocoLaunch.Formats.Ovmf;
using CocoLaunch.Tests.Shared;
using CocoLaunch.Vmm.Tdx;

namespace CocoLaunch.Vmm.Tests;

/// <summary>The TD HOB against tdx-mrtd.md §7's worked example for Debian OVMF.fd.</summary>
public sealed class TdHobBuilderTests
{
    private static IReadOnlyList<Formats.Tdvf.TdvfSection> DebianSections() =>
        OvmfFirmware.Parse(FirmwareImage.Load(RepoPaths.OvmfFd)).Tdx.Value!.Sections;

    [Fact]
    public void Resources_TwoGiB_MatchTheSpecTable()
    {
        var resources = TdHobBuilder.Resources([(0, 0x8000_0000)], DebianSections());
        Assert.Equal(
            [
                new HobResource(0x0, 0x800000, false),
                new HobResource(0x800000, 0x6000, true),
                new HobResource(0x806000, 0x3000, false),
                new HobResource(0x809000, 0x2000, true),
                new HobResource(0x80B000, 0x2000, true),
                new HobResource(0x80D000, 0x3000, false),
                new HobResource(0x810000, 0x10000, true),
                new HobResource(0x820000, 0x7F7E0000, false),
            ],
            resources);
    }

    [Fact]
    public void Build_TwoGiB_PhitAndLengthsAsInTheSpec()
    {
        var hob = TdHobBuilder.Build(new Abi.Gpa(0x809000), TdHobBuilder.Resources([(0, 0x8000_0000)], DebianSections()));
        Assert.Equal(440 + 8, hob.Length); // 56 + 8 x 48 measured, plus the end HOB
        Assert.Equal(Convert.FromHexString("0100380000000000" + "0900000000000000"), hob[..16]);
        Assert.All(hob[16..48], b => Assert.Equal(0, b));
        Assert.Equal(Convert.FromHexString("c091800000000000"), hob[48..56]); // EfiEndOfHobList = 0x8091C0
        Assert.Equal(Convert.FromHexString("0300300000000000"), hob[56..64]); // first resource descriptor header
        Assert.Equal(7u, BitConverter.ToUInt32(hob, 56 + 24)); // unaccepted
        Assert.Equal(Convert.FromHexString("ffff080000000000"), hob[^8..]);
    }

    [Fact]
    public void Resources_ThreeGiBQ35Split_AddsTheHighRange()
    {
        var resources = TdHobBuilder.Resources([(0, 0x8000_0000), (0x1_0000_0000, 0x4000_0000)], DebianSections());
        Assert.Equal(9, resources.Count);
        Assert.Equal(new HobResource(0x1_0000_0000, 0x4000_0000, false), resources[^1]);
        Assert.Equal(488 + 8, TdHobBuilder.Build(new Abi.Gpa(0x809000), resources).Length);
    }

    [Theory]
    [InlineData(0x80A000UL)] // inside TD_HOB
    [InlineData(0x801000UL)] // inside TempMem
    [InlineData(0x808000UL)] // between two sections
    [InlineData(0x800000UL)] // at a section's start
    public void Resources_ContiguousSlotsSplitInsideTheTdvfRange_AreTheHobOfOneRange(ulong split)
    {
        // A spec's RAM in two contiguous slots is one RAM range to the firmware: the HOB used to throw here.
        var whole = TdHobBuilder.Resources([(0, 0x8000_0000)], DebianSections());
        var split2 = TdHobBuilder.Resources([(split, 0x8000_0000 - split), (0, split)], DebianSections());
        Assert.Equal(whole, split2);
        Assert.Equal(TdHobBuilder.Build(new Abi.Gpa(0x809000), whole), TdHobBuilder.Build(new Abi.Gpa(0x809000), split2));
    }

    [Fact]
    public void MergeRam_JoinsOnlyRangesThatTouch()
    {
        Assert.Equal(
            [(0x0UL, 0x3000UL), (0x4000UL, 0x1000UL)],
            TdHobBuilder.MergeRam([(0x1000, 0x2000), (0x4000, 0x1000), (0x0, 0x1000), (0x9000, 0)]));
    }
}
