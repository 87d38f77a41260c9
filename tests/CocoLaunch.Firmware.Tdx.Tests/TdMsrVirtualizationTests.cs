namespace CocoLaunch.Firmware.Tdx.Tests;

/// <summary>The module's MSR table (TdMsrVirtualization): one rule per MSR, found by a binary search.</summary>
public sealed class TdMsrVirtualizationTests
{
    [Fact]
    public void Ranges_AreOrderedAndDisjoint()
    {
        var ranges = TdMsrVirtualization.Ranges.ToArray();
        Assert.All(ranges, r => Assert.True(r.First <= r.Last, $"0x{r.First:x}-0x{r.Last:x}"));
        for (int i = 1; i < ranges.Length; i++)
        {
            Assert.True(ranges[i].First > ranges[i - 1].Last, $"0x{ranges[i].First:x} overlaps or precedes 0x{ranges[i - 1].Last:x}");
        }
    }

    [Theory]
    [InlineData(0xC1u, false, TdMsrAction.Gp)]     // IA32_PMC0 without PERFMON
    [InlineData(0xC1u, true, TdMsrAction.Native)]  // with PERFMON the counters are the TD's own
    [InlineData(0x1A0u, false, TdMsrAction.Module)]
    [InlineData(0x1A0u, true, TdMsrAction.Native)]
    public void DynamicBits_FollowTheTdsPerfmonAttribute(uint msr, bool perfmon, TdMsrAction expected) =>
        Assert.Equal(expected, TdMsrVirtualization.Classify(msr, write: false, f => f == TdMsrFeature.Perfmon && perfmon));

    [Theory]
    [InlineData(0x0u)]
    [InlineData(0x3Au)]           // IA32_FEATURE_CONTROL
    [InlineData(0xC000_0083u)]    // IA32_CSTAR
    [InlineData(0xFFFF_FFFFu)]
    public void UnlistedMsrs_AreVe(uint msr) => Assert.Equal(TdMsrAction.Ve, TdMsrVirtualization.Classify(msr, write: true, _ => false));
}
