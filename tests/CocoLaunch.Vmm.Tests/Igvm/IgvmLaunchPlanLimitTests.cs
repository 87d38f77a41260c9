using CocoLaunch.Abi;
using CocoLaunch.Formats.Igvm;
using CocoLaunch.Vmm.Igvm;
using CocoLaunch.Vmm.Launch;
using B = CocoLaunch.Tests.Shared.IgvmFileBuilder;

namespace CocoLaunch.Vmm.Tests.Igvm;

/// <summary>
/// The plan refuses directives that load more than <see cref="IgvmLaunchPlan.MaxLoadedBytes"/> before the VM exists
/// (fuzz/README.md: a PARAMETER_AREA of 0x2100001000 bytes made measure populate 132 GiB). Only the plan runs here,
/// so the boundary is tested without loading a GiB.
/// </summary>
public sealed class IgvmLaunchPlanLimitTests
{
    private const uint Snp = 1, Tdx = 2;

    private static IgvmLaunchPlan Plan(B builder, KvmVmType platform)
    {
        byte[] bytes = builder.Build();
        var input = IgvmLaunch.Input("guest.igvm", IgvmFile.Parse(bytes), bytes, platform, IgvmZeroPages.Normal);
        return IgvmLaunchPlan.Of(input, platform, vcpus: 1);
    }

    /// <summary>A parameter area and one page that together load exactly the limit, then one more page.</summary>
    private static B AtTheLimit(bool lastPageShared) => new B().Platform(Tdx, B.Tdx)
        .Area(IgvmLaunchPlan.MaxLoadedBytes - 0x1000, 0).Insert(0x10_0000, Tdx, 0)
        .Page(0x1000, Tdx).Page(0x2000, Tdx, flags: lastPageShared ? B.FlagShared : 0);

    [Fact]
    public void ExactlyTheLimit_IsPlanned_SharedPagesDoNotCount()
    {
        var plan = Plan(AtTheLimit(lastPageShared: true), KvmVmType.Tdx);
        Assert.Equal(1, plan.Vcpus);
    }

    [Fact]
    public void OnePagePastTheLimit_IsRefused_NamingThePageThatCrossesIt()
    {
        var e = Assert.Throws<LaunchException>(() => Plan(AtTheLimit(lastPageShared: false), KvmVmType.Tdx));
        Assert.StartsWith("header #4 (IGVM_VHT_PAGE_DATA) at offset 0x", e.Message, StringComparison.Ordinal);
        Assert.EndsWith(": its 0x1000 bytes take what the directives for tdx load past 1 GiB, the most an IGVM launch loads (as for a firmware or kernel file)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AHugeParameterArea_IsRefusedAtItsInsert_NotAtItsDeclaration()
    {
        var file = new B().Platform(Snp, B.SevSnp).Area(0xFFFF_FFFF_FFFF_F000, 7).Insert(0x8000, Snp, 7).Page(0x1000, Snp);
        var e = Assert.Throws<LaunchException>(() => Plan(file, KvmVmType.Snp));
        Assert.StartsWith("header #2 (IGVM_VHT_PARAMETER_INSERT) at offset 0x", e.Message, StringComparison.Ordinal);
        Assert.Contains(": its 0xfffffffffffff000 bytes take what the directives for sev-snp load past 1 GiB", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TwoMegabyteZeroPages_CountTheirWholeSize()
    {
        // 512 zero pages of 2 MiB are 1 GiB from 16 KiB of headers; the 513th crosses the limit.
        var file = new B().Platform(Tdx, B.Tdx);
        for (int i = 0; i < 513; i++)
        {
            file.Page(0x1_0000_0000UL + ((ulong)i << 21), Tdx, flags: B.Flag2Mb);
        }

        var e = Assert.Throws<LaunchException>(() => Plan(file, KvmVmType.Tdx));
        Assert.StartsWith("header #513 (IGVM_VHT_PAGE_DATA) at offset 0x", e.Message, StringComparison.Ordinal);
        Assert.Contains(": its 0x200000 bytes take what the directives for tdx load past 1 GiB", e.Message, StringComparison.Ordinal);
    }
}
