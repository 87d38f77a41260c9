using CocoLaunch.Abi.Kvm;
using static CocoLaunch.Kvm.Tests.KvmSetup;

namespace CocoLaunch.Kvm.Tests;

/// <summary>
/// What KVM_SET_MEMORY_ATTRIBUTES costs the model: proportional to the runs a call changes, not to the runs that
/// exist. 12,000 private 4 KiB slots once took 16 s (Debug) because every call copied the whole attribute map and
/// scanned every memslot.
/// </summary>
public sealed class AttributeCostTests
{
    private const int Ranges = 20_000;

    /// <summary>
    /// Nodes one call may copy: two splits and joins along paths of an AVL tree of height ≤ 1.44 log2(runs) ≈ 22 at
    /// 40,001 runs (49 measured); a copy of the whole map would be 40,001.
    /// </summary>
    private const long NodesPerCall = 100;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TwentyThousandDisjointPrivateRanges_OneCallEach_WorkPerCallIsBounded(bool withSlots)
    {
        var vm = Vm();
        long before = vm.Attributes.NodesAllocated;
        long worstCall = 0;
        for (uint i = 0; i < Ranges; i++)
        {
            ulong gpa = 0x1_0000_0000 + (i * 2 * K4); // a shared hole between neighbours, so no two runs merge
            if (withSlots)
            {
                vm.Slot(i, gpa, K4, vm.Gmem(K4));
            }

            long callBefore = vm.Attributes.NodesAllocated;
            vm.SetAttributes(gpa, K4, isPrivate: true);
            worstCall = Math.Max(worstCall, vm.Attributes.NodesAllocated - callBefore);
        }

        Assert.Equal((2 * Ranges) + 1, vm.Attributes.RunCount);
        Assert.True(worstCall <= NodesPerCall, $"one call copied {worstCall} nodes (bound {NodesPerCall}): the update is not proportional to its range");
        Assert.True(vm.Attributes.NodesAllocated - before <= Ranges * NodesPerCall);
        Assert.Equal(KvmMemoryAttributes.Private, vm.AttributesOf((0x1_0000_0000 / K4) + (2 * (Ranges - 1))));
        Assert.Equal(KvmMemoryAttributes.None, vm.AttributesOf((0x1_0000_0000 / K4) + (2 * (Ranges - 1)) + 1));
    }

    [Fact]
    public void OneCallOverEveryRange_CollapsesThemIntoOneRun()
    {
        var vm = Vm();
        for (uint i = 0; i < 1000; i++)
        {
            vm.SetAttributes(0x1_0000_0000 + (i * 2 * K4), K4, isPrivate: true);
        }

        vm.SetAttributes(0x1_0000_0000, 2000 * K4, isPrivate: true);
        Assert.Equal(3, vm.Attributes.RunCount);
        vm.SetAttributes(0x1_0000_0000, 2000 * K4, isPrivate: false);
        Assert.Equal(1, vm.Attributes.RunCount);
    }
}
