using CocoLaunch.Abi.Kvm;
using static CocoLaunch.Kvm.Tests.KvmSetup;

namespace CocoLaunch.Kvm.Tests;

/// <summary>Bugs the KVM API sequence property test (KvmApiSequenceTests) found, each as the smallest deterministic case.</summary>
public sealed class ApiSequenceRegressionTests
{
    /// <summary>
    /// Seeds 2625048, 2875009 and others: KVM_SET_MEMORY_ATTRIBUTES has no memslot check (case 51), so a range far
    /// above any mapping is valid; its zap must stop at the top of the stage-2 table (tdp_mmu_zap_leafs clamps the end
    /// to tdp_mmu_max_gfn_exclusive) instead of indexing past it.
    /// </summary>
    [Theory]
    [InlineData(0x8000_0000_0000_0000UL, 0x201000UL)]
    [InlineData(0x1_0000_1000UL, 0x8000_0000_0000_0000UL)]
    public void SetAttributes_RangeAboveTheStage2Table_Succeeds(ulong address, ulong size)
    {
        var vm = Vm();
        vm.SetMemoryAttributes(new KvmMemoryAttributesArgs { Address = address, Size = size, Attributes = KvmMemoryAttributes.Private });
        Assert.Equal(KvmMemoryAttributes.Private, vm.AttributesOf(address / K4));
        vm.SetMemoryAttributes(new KvmMemoryAttributesArgs { Address = address, Size = size });
        Assert.Equal(KvmMemoryAttributes.None, vm.AttributesOf(address / K4));
    }
}
