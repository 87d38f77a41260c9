using CocoLaunch.Abi;
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

/// <summary>Guest accesses found wrong by the sequence test's data check.</summary>
public sealed class ApiSequenceGuestRegressionTests
{
    /// <summary>
    /// Seeds 1375047, 1375051, 1500043: on a DEFAULT VM a guest_memfd slot without MMAP is not gmem-only, so a (shared)
    /// guest access is served from userspace_addr like any shared fault (kvm_mmu_faultin_pfn goes to guest_memfd only
    /// for private faults or gmem-only slots) — as pre-fault already mapped it — not turned into MMIO.
    /// </summary>
    [Fact]
    public void DefaultVm_GmemSlotWithoutMmap_GuestReadsUserspaceMemory()
    {
        const ulong gpa = 0x1_0000_0000;
        var vm = Vm(KvmVmType.Default);
        var hva = vm.HostMemory(M2);
        vm.Kvm.Host.Write(new Memory.Hva(hva.Value + 0x10), [0x5A]);
        int fd = vm.Gmem(M2);
        vm.SetUserMemoryRegion2(new KvmUserspaceMemoryRegion2 { Slot = 0, Flags = KvmMemFlags.GuestMemfd, GuestPhysAddr = gpa, MemorySize = M2, UserspaceAddr = hva.Value, GuestMemfd = fd });
        var vcpu = vm.CreateVcpu(0);
        var guest = new CocoLaunch.Tests.Shared.ScriptedGuest(new CocoLaunch.Tests.Shared.GuestAction.Read(new Abi.Gpa(gpa + 0x10), 1));
        CocoLaunch.Tests.Shared.ScriptedGuestExtensions.SetGuest(vcpu, guest);
        Assert.IsType<KvmExit.Shutdown>(vcpu.Run());
        Assert.Equal([0x5A], guest.Results[0].Data);
    }
}

/// <summary>Memslots the sequence test placed where the stage-2 table cannot reach.</summary>
public sealed class ApiSequenceMemslotRegressionTests
{
    /// <summary>
    /// Seed 2625583: a memslot above the largest GFN the TDP MMU maps was accepted, and pre-faulting it indexed past
    /// the stage-2 table. x86 kvm_arch_prepare_memory_region refuses CREATE/MOVE past kvm_mmu_max_gfn() with EINVAL.
    /// </summary>
    [Theory]
    [InlineData(0x8000_0000_0000_0000UL)]
    [InlineData(0x0010_0000_0000_0000UL)] // 1 << 52: the first GPA above a 52-bit guest-physical space
    public void SlotAboveTheMaxGfn_Einval(ulong gpa)
    {
        var vm = Vm(KvmVmType.Default);
        var hva = vm.HostMemory(M2);
        var region = new KvmUserspaceMemoryRegion2 { Slot = 0, GuestPhysAddr = gpa, MemorySize = M2, UserspaceAddr = hva.Value, GuestMemfd = -1 };
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.SetUserMemoryRegion2(region)));
        region.GuestPhysAddr = 0x0010_0000_0000_0000UL - M2; // the last 2M below a 52-bit space is fine
        vm.SetUserMemoryRegion2(region);
    }
}
