using CocoLaunch.Abi;

namespace CocoLaunch.Firmware.Snp.Tests;

/// <summary>The PSP's CPUID page check in SNP_LAUNCH_UPDATE: layout, rejection, in-place correction, RMP state.</summary>
public sealed class CpuidPageTests
{
    private static readonly Gpa At = new(0x80_0000);

    // A made-up platform: leaf 1 lacks ECX bit 31 (hypervisor-present) and EDX bit 28 (HTT); leaf 7.0 lacks EBX bit 0.
    private static readonly SnpCpuidPolicy Platform = new(
    [
        new CpuidFunction(1, 0, 0xFFFF_FFFF, 0xFFFF_FFFF, 0x7FFF_FFFF, 0xEFFF_FFFF),
        new CpuidFunction(7, 0, 0xFFFF_FFFF, 0xFFFF_FFFE, 0xFFFF_FFFF, 0xFFFF_FFFF),
    ]);

    private static byte[] Page(params CpuidFunction[] entries)
    {
        var page = new byte[4096];
        page[0] = (byte)entries.Length;
        for (int i = 0; i < entries.Length; i++)
        {
            CpuidPage.SetEntry(page, i, entries[i]);
        }

        return page;
    }

    private static SnpGuestContext Started()
    {
        var context = new SnpGuestContext(cpuidPolicy: Platform);
        context.LaunchStart(0x30000);
        return context;
    }

    [Fact]
    public void EntryLayout_MatchesTheGuestAbi()
    {
        var page = Page(new CpuidFunction(0x8000_001F, 2, 0x11, 0x22, 0x33, 0x44));
        Assert.Equal(1u, BitConverter.ToUInt32(page, 0));
        Assert.Equal(0x8000_001Fu, BitConverter.ToUInt32(page, 16));
        Assert.Equal(2u, BitConverter.ToUInt32(page, 20));
        Assert.Equal(new uint[] { 0x11, 0x22, 0x33, 0x44 }, Enumerable.Range(0, 4).Select(i => BitConverter.ToUInt32(page, 16 + 24 + (4 * i))));
    }

    [Fact]
    public void BadLeaf_InvalidParam_PageCorrectedInPlace_RmpLeftUnassigned()
    {
        var context = Started();
        var ok = new CpuidFunction(0xD, 0, 0x207, 0x340, 0x988, 0);
        var page = Page(ok, new CpuidFunction(1, 0, 0xA20F10, 0x800, 0xFEDA_3203, 0x178B_FBFF), new CpuidFunction(7, 0, 0, 0x219C_95A9, 0, 0));
        var e = Assert.Throws<SnpFirmwareException>(() => context.LaunchUpdateCpuid(At, page));
        Assert.Equal(SnpStatus.InvalidParam, e.Status);
        Assert.Contains("0x1.0, 0x7.0", e.Message);
        Assert.Equal(ok, CpuidPage.Entry(page, 0));
        Assert.Equal(new CpuidFunction(1, 0, 0xA20F10, 0x800, 0x7EDA_3203, 0x078B_FBFF), CpuidPage.Entry(page, 1));
        Assert.Equal(new CpuidFunction(7, 0, 0, 0x219C_95A8, 0, 0), CpuidPage.Entry(page, 2));
        Assert.Equal(0, context.Updates);

        // The RMP entry stayed hypervisor-owned: the corrected page is accepted at the same GPA.
        context.LaunchUpdateCpuid(At, page);
        Assert.Equal(1, context.Updates);
    }

    [Fact]
    public void MoreThan64Entries_InvalidParam_PageUntouched()
    {
        var page = new byte[4096];
        page[0] = 65;
        page[40] = 0xFF;
        var before = page.ToArray();
        Assert.Equal(SnpStatus.InvalidParam, Assert.Throws<SnpFirmwareException>(() => Started().LaunchUpdateCpuid(At, page)).Status);
        Assert.Equal(before, page);
    }

    [Fact]
    public void GenericLaunchUpdate_ChecksCpuidPagesToo_AndUnlistedLeavesPass()
    {
        var context = Started();
        Assert.Throws<SnpFirmwareException>(() => context.LaunchUpdate(SnpPageType.Cpuid, At, Page(new CpuidFunction(1, 0, 0, 0, 0xFFFF_FFFF, 0))));
        context.LaunchUpdate(SnpPageType.Cpuid, At, Page(new CpuidFunction(0x4000_0000, 0, 0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF)));
        Assert.Equal(1, context.Updates);
    }

    [Fact]
    public void CpuidPageContents_AreNotInTheDigest()
    {
        var a = Started();
        var b = Started();
        a.LaunchUpdate(SnpPageType.Cpuid, At, Page());
        b.LaunchUpdate(SnpPageType.Cpuid, At, Page(new CpuidFunction(0xD, 0, 0x207, 0x340, 0x988, 0)));
        Assert.Equal(a.LaunchFinish(), b.LaunchFinish());
    }
}
