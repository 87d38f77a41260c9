using CocoLaunch.Abi;

namespace CocoLaunch.Firmware.Snp.Tests;

/// <summary>RMP entry states through the launch (kvm-memory-model.md, SNP LAUNCH_UPDATE).</summary>
public sealed class RmpTests
{
    private static readonly Gpa At = new(0x80_0000);

    private static SnpGuestContext Started(uint asid = 1)
    {
        var context = new SnpGuestContext { Asid = asid };
        context.LaunchStart(0x30000);
        return context;
    }

    [Theory]
    [InlineData(SnpPageType.Normal)]
    [InlineData(SnpPageType.Zero)]
    [InlineData(SnpPageType.Unmeasured)]
    [InlineData(SnpPageType.Secrets)]
    [InlineData(SnpPageType.Cpuid)]
    public void LaunchUpdate_MakesThePageAssignedValidatedImmutable_WithTheGuestsAsid(SnpPageType type)
    {
        var context = Started(asid: 7);
        Assert.Equal(RmpEntry.HypervisorOwned, context.Rmp[At]);
        context.LaunchUpdate(type, At, new byte[4096]);
        Assert.Equal(new RmpEntry(true, true, true, 7, At), context.Rmp[At]);
        Assert.Equal(new RmpEntry(true, true, true, 7, At), context.Rmp[new Gpa(At.Value + 0xABC)]);
        Assert.Equal(RmpEntry.HypervisorOwned, context.Rmp[new Gpa(At.Value + 0x1000)]);
    }

    [Fact]
    public void FailedCpuidPage_StaysHypervisorOwned_AndVmsaPagesTakeNoGuestEntry()
    {
        var context = new SnpGuestContext(cpuidPolicy: new SnpCpuidPolicy([new CpuidFunction(1, 0, 0, 0, 0, 0)]));
        context.LaunchStart(0x30000);
        var page = new byte[4096];
        page[0] = 1;
        CpuidPage.SetEntry(page, 0, new CpuidFunction(1, 0, 1, 0, 0, 0));
        Assert.Throws<SnpFirmwareException>(() => context.LaunchUpdateCpuid(At, page));
        Assert.Equal(RmpEntry.HypervisorOwned, context.Rmp[At]);
        context.LaunchUpdate(SnpPageType.Vmsa, new Gpa(0xFFFF_FFFF_F000), new byte[4096]);
        Assert.Equal(0, context.Rmp.AssignedPages);
    }

    [Fact]
    public void GuestFaultAssignment_IsNotValidated_AndReclaimReturnsThePage()
    {
        var rmp = Started().Rmp;
        Assert.True(rmp.AssignForGuest(At, 1));
        Assert.False(rmp.AssignForGuest(At, 1));
        Assert.Equal(new RmpEntry(true, false, false, 1, At), rmp[At]);
        rmp.Reclaim(At);
        Assert.Equal(RmpEntry.HypervisorOwned, rmp[At]);
    }
}

/// <summary>PVALIDATE against the RMP (guest-abi.md §6.1).</summary>
public sealed class PvalidateTests
{
    [Fact]
    public void GuestAssignedPage_ValidatesOnce_ThenUnchanged_ThenRescinds()
    {
        var rmp = new RmpTable();
        var gpa = new CocoLaunch.Abi.Gpa(0x20_0000);
        rmp.AssignForGuest(gpa, 1);
        Assert.False(rmp.IsUsable(gpa));
        Assert.Equal((0u, false), rmp.Pvalidate(gpa, size2M: false, validate: true));
        Assert.True(rmp.IsUsable(gpa));
        Assert.Equal((0u, true), rmp.Pvalidate(gpa, size2M: false, validate: true)); // CF = 1: no update
        Assert.Equal((0u, false), rmp.Pvalidate(gpa, size2M: false, validate: false));
        Assert.False(rmp.IsUsable(gpa));
        Assert.Equal(1, rmp.ValidatedByGuest);
    }

    [Fact]
    public void HypervisorOwnedPage_IsAnRmpFaultNotAReturnCode() =>
        Assert.Null(new RmpTable().Pvalidate(new CocoLaunch.Abi.Gpa(0x20_0000), size2M: false, validate: true));

    [Theory]
    [InlineData(0x20_0000UL, 6u)] // 2M on 4K entries: FAIL_SIZEMISMATCH
    [InlineData(0x20_1000UL, 1u)] // 2M not 2M-aligned: FAIL_INPUT
    public void TwoMegabyteRequest_OnFourKEntries(ulong gpa, uint code)
    {
        var rmp = new RmpTable();
        rmp.AssignForGuest(new CocoLaunch.Abi.Gpa(gpa), 1);
        Assert.Equal((code, false), rmp.Pvalidate(new CocoLaunch.Abi.Gpa(gpa), size2M: true, validate: true));
    }

    [Fact]
    public void Reclaim_ClearsValidated()
    {
        var rmp = new RmpTable();
        var gpa = new CocoLaunch.Abi.Gpa(0x30_0000);
        rmp.AssignForGuest(gpa, 1);
        rmp.Pvalidate(gpa, false, true);
        rmp.Reclaim(gpa);
        rmp.AssignForGuest(gpa, 1);
        Assert.False(rmp.IsUsable(gpa)); // assigned again, but a new page: not validated
    }
}

/// <summary>2M RMP entries (RmpTable.Large.cs): made whole, validated whole, split by any 4K operation inside.</summary>
public sealed class LargeRmpEntryTests
{
    private static readonly CocoLaunch.Abi.Gpa Region = new(0x60_0000);

    private static CocoLaunch.Abi.Gpa Page(int i) => new(Region.Value + ((ulong)i * 0x1000));

    [Fact]
    public void Assign2M_OnlyWhenNoPageOfTheRegionIsAssigned()
    {
        var rmp = new RmpTable();
        Assert.True(rmp.AssignForGuest(Page(100), 1));
        Assert.False(rmp.AssignForGuest2M(Region, 1));
        Assert.Equal(1, rmp.AssignedPages);
        rmp.Reclaim(Page(100));
        Assert.True(rmp.AssignForGuest2M(Region, 1));
        Assert.Equal(512, rmp.AssignedPages);
        Assert.True(rmp.IsLarge(Page(511)));
        Assert.False(rmp.AssignForGuest(Page(3), 1)); // already the guest's, through the 2M entry
        Assert.Throws<ArgumentException>(() => rmp.AssignForGuest2M(Page(1), 1));
    }

    [Fact]
    public void Pvalidate2M_OnA2MEntry_ValidatesAll512_SecondTimeCarrySet_RescindClearsAll()
    {
        var rmp = new RmpTable();
        rmp.AssignForGuest2M(Region, 1);
        Assert.Equal((0u, false), rmp.Pvalidate(Region, size2M: true, validate: true));
        Assert.True(rmp.IsUsable(Page(0)) && rmp.IsUsable(Page(511)));
        Assert.Equal((0u, true), rmp.Pvalidate(Region, size2M: true, validate: true));
        Assert.Equal(512, rmp.ValidatedByGuest);
        Assert.Equal(1, rmp.Validated2M);
        Assert.Equal((0u, false), rmp.Pvalidate(Region, size2M: true, validate: false));
        Assert.False(rmp.IsUsable(Page(200)));
        Assert.Equal((1u, false), rmp.Pvalidate(Page(1), size2M: true, validate: true)); // FAIL_INPUT: not 2 MiB aligned
    }

    [Fact]
    public void Pvalidate4K_InsideA2MEntry_SplitsIt_KeepingTheOtherPagesValidated()
    {
        var rmp = new RmpTable();
        rmp.AssignForGuest2M(Region, 1);
        rmp.Pvalidate(Region, size2M: true, validate: true);
        Assert.Equal((0u, false), rmp.Pvalidate(Page(5), size2M: false, validate: false));
        Assert.False(rmp.IsLarge(Region));
        Assert.Equal(1, rmp.Psmashes);
        Assert.False(rmp.IsUsable(Page(5)));
        Assert.True(rmp.IsUsable(Page(4)) && rmp.IsUsable(Page(6)));
        // Now 4K entries: a 2M request is a size mismatch.
        Assert.Equal((6u, false), rmp.Pvalidate(Region, size2M: true, validate: true));
    }

    [Fact]
    public void Pvalidate2M_OnAnUnassignedRegion_IsAnRmpFault()
    {
        Assert.Null(new RmpTable().Pvalidate(Region, size2M: true, validate: true));
    }

    [Fact]
    public void ReclaimInsideA2MEntry_SplitsFirst_OnlyThatPageGoesBack()
    {
        var rmp = new RmpTable();
        rmp.AssignForGuest2M(Region, 1);
        rmp.ReclaimRange(Page(10), 2 * 0x1000);
        Assert.Equal(510, rmp.AssignedPages);
        Assert.Equal(RmpEntry.HypervisorOwned, rmp[Page(11)]);
        Assert.True(rmp[Page(12)].Assigned);
        Assert.Equal(0, rmp.LargeEntries);
        Assert.Equal(1, rmp.Psmashes);
    }
}

/// <summary>The VMSA bit (RmpTable.Vmsa.cs): only on the guest's validated pages, and gone when the page goes back.</summary>
public sealed class VmsaBitTests
{
    private static readonly CocoLaunch.Abi.Gpa Page = new(0x20_3000);

    [Fact]
    public void SetVmsa_NeedsAValidatedGuestPage_ReclaimClearsIt()
    {
        var rmp = new RmpTable();
        Assert.False(rmp.SetVmsa(Page, true)); // hypervisor-owned
        rmp.AssignForGuest(Page, 1);
        Assert.False(rmp.SetVmsa(Page, true)); // not validated
        rmp.Pvalidate(Page, size2M: false, validate: true);
        Assert.True(rmp.SetVmsa(Page, true));
        Assert.True(rmp.IsVmsa(Page));
        rmp.Pvalidate(Page, size2M: false, validate: false);
        Assert.False(rmp.IsVmsa(Page)); // a rescinded page cannot be entered
        rmp.Pvalidate(Page, size2M: false, validate: true);
        Assert.True(rmp.IsVmsa(Page));
        rmp.Reclaim(Page);
        rmp.AssignForGuest(Page, 1);
        rmp.Pvalidate(Page, size2M: false, validate: true);
        Assert.False(rmp.IsVmsa(Page));
    }
}
