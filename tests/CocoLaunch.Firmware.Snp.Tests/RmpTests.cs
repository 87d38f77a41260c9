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
