using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Firmware.Snp;
using CocoLaunch.Kvm.Mmu;
using static CocoLaunch.Kvm.Tests.KvmSetup;

namespace CocoLaunch.Kvm.Tests;

/// <summary>
/// SNP on 2M guest_memfd folios (the hugetlb series, kvm-memory-model.md §6): the prepare hook makes one 2M RMP entry
/// for a 2 MiB region that is all private and has no assigned page, and the RMP entry's size caps the leaf; a launch
/// page, a shared page or a 4K RMPUPDATE inside the region keeps it (or puts it back) at 4K.
/// </summary>
public sealed class SnpHugeFolioTests
{
    private const ulong Base = 0x40_0000; // three 2 MiB regions: [Base, Base + 6 MiB)

    private VcpuFd? vcpu;

    private VmFd Launched(ulong sharedGpa = 0, bool hugeFolios = true)
    {
        var vm = Vm(KvmVmType.Snp, hugeFolios ? KvmProfile.Upstream with { GmemFolioSize = M2 } : null);
        vm.Slot(0, Base, 3 * M2, vm.Gmem(3 * M2));
        vm.SetAttributes(Base, 3 * M2, isPrivate: true);
        if (sharedGpa != 0)
        {
            vm.SetAttributes(sharedGpa, K4, isPrivate: false);
        }

        vm.MemoryEncryptOp(new KvmSevCmd { Id = KvmSevCmdId.SnpLaunchStart, Data = new KvmSevSnpLaunchStart { Policy = 0x30000 } });
        // One launch page in the first region: it keeps that region's entries 4K.
        vm.MemoryEncryptOp(new KvmSevCmd { Id = KvmSevCmdId.SnpLaunchUpdate, Data = new KvmSevSnpLaunchUpdate { GfnStart = Base / K4, Len = K4, Type = (byte)SnpPageType.Zero } });
        vcpu = vm.CreateVcpu(0);
        vcpu.SevEsSaveArea = Vmsa.Build(Vmsa.BspResetEip, VmsaProfile.Qemu, 0x800F12, 1);
        vm.MemoryEncryptOp(new KvmSevCmd { Id = KvmSevCmdId.SnpLaunchFinish, Data = new KvmSevSnpLaunchFinish() });
        return vm;
    }

    private void PreFaultAll()
    {
        var args = Range(Base, 3 * M2);
        while (args.Size > 0)
        {
            vcpu!.PreFaultMemory(ref args);
        }
    }

    [Fact]
    public void UntouchedRegions_Get2MRmpEntriesAnd2MLeaves_TheRegionWithALaunchPageStays4K()
    {
        var vm = Launched();
        PreFaultAll();
        var rmp = vm.Snp!.Rmp;
        Assert.Equal(new MmuStats(512, 2, 0), vm.Mmu.Stats);
        Assert.False(rmp.IsLarge(new Gpa(Base)));
        Assert.True(rmp.IsLarge(new Gpa(Base + M2)));
        Assert.True(rmp.IsLarge(new Gpa(Base + (2 * M2) + (511 * K4))));
        Assert.Equal(2, rmp.LargeEntries);
        Assert.Equal(3 * 512, rmp.AssignedPages);
        // Assigned, not validated: the guest's PVALIDATE does that.
        Assert.Equal(new RmpEntry(true, false, false, 1, new Gpa(Base + M2 + K4)), rmp[new Gpa(Base + M2 + K4)]);
    }

    [Fact]
    public void UpstreamFolios_Everything4K_NoLargeEntry()
    {
        var vm = Launched(hugeFolios: false);
        PreFaultAll();
        Assert.Equal(new MmuStats(3 * 512, 0, 0), vm.Mmu.Stats);
        Assert.Equal(0, vm.Snp!.Rmp.LargeEntriesCreated);
    }

    [Fact]
    public void ARegionWithASharedPage_Gets4KEntriesOnly()
    {
        var vm = Launched(sharedGpa: Base + (2 * M2) + (7 * K4));
        PreFaultAll();
        var rmp = vm.Snp!.Rmp;
        Assert.Equal(1, rmp.LargeEntries);
        Assert.False(rmp.IsLarge(new Gpa(Base + (2 * M2))));
        Assert.Equal(RmpEntry.HypervisorOwned, rmp[new Gpa(Base + (2 * M2) + (7 * K4))]);
        // 511 private 4K leaves and the shared page's own 4K leaf in the last region, one 2M leaf in the middle.
        Assert.Equal(new MmuStats(512 + 512, 1, 0), vm.Mmu.Stats);
    }

    [Fact]
    public void ConvertingOnePageToShared_SplitsTheEntry_OnlyThatPageLeavesTheGuest_TheRestRefaultsAt4K()
    {
        var vm = Launched();
        PreFaultAll();
        var rmp = vm.Snp!.Rmp;
        var page = new Gpa(Base + M2 + (3 * K4));
        Assert.Equal((0u, false), rmp.Pvalidate(new Gpa(Base + M2), size2M: true, validate: true));

        vm.SetAttributes(page.Value, K4, isPrivate: false);

        Assert.Equal(1, rmp.Psmashes);
        Assert.False(rmp.IsLarge(page));
        Assert.Equal(RmpEntry.HypervisorOwned, rmp[page]);
        Assert.True(rmp.IsUsable(new Gpa(Base + M2))); // still validated: a split keeps each page's state
        Assert.True(rmp.IsUsable(new Gpa(Base + (2 * M2) - K4)));
        Assert.Equal(3 * 512 - 1, rmp.AssignedPages);

        PreFaultAll();
        Assert.Equal(new MmuStats(512 + 512, 1, 0), vm.Mmu.Stats); // 511 private + 1 shared 4K leaves in the split region
        Assert.Equal((PageLevel.Size4K, false), vm.Mmu.Lookup(page.Value / K4) is { } leaf ? (leaf.Leaf.Level, leaf.Private) : default);
    }

    [Fact]
    public void BackToPrivate_AWholeRegionAgain_Gets2MAgain()
    {
        var vm = Launched();
        PreFaultAll();
        vm.SetAttributes(Base + M2, M2, isPrivate: false);
        Assert.Equal(1, vm.Snp!.Rmp.LargeEntries);
        vm.SetAttributes(Base + M2, M2, isPrivate: true);
        PreFaultAll();
        Assert.Equal(2, vm.Snp.Rmp.LargeEntries);
        Assert.Equal(3, vm.Snp.Rmp.LargeEntriesCreated);
        Assert.Equal(new MmuStats(512, 2, 0), vm.Mmu.Stats);
    }
}
