using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm.Mmu;
using static CocoLaunch.Kvm.Tests.KvmSetup;

namespace CocoLaunch.Kvm.Tests;

/// <summary>Group E of kvm-memory-model.md §14: KVM_PRE_FAULT_MEMORY.</summary>
public sealed class PreFaultTests
{
    private const ulong G = 0x1_0000_0000; // 2M aligned, as in pre_fault_memory_test

    public static TheoryData<KvmVmType, bool> SelftestVariants => new()
    {
        { KvmVmType.Default, false },
        { KvmVmType.SwProtected, false },
        { KvmVmType.SwProtected, true },
    };

    [Fact]
    public void Case066_FlagsNonZero_EinvalStructUnchanged()
    {
        var vcpu = Vm(KvmVmType.Default).CreateVcpu(0);
        var args = Range(G, K4);
        args.Flags = 1;
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vcpu.PreFaultMemory(ref args)));
        Assert.Equal((G, K4), (args.Gpa, args.Size));
    }

    [Fact]
    public void Case067_PaddingIsNotChecked()
    {
        var vm = Vm(KvmVmType.Default);
        vm.Slot(0, G, M2);
        var args = Range(G, K4);
        args.Padding0 = 1;
        Assert.Equal(0, vm.CreateVcpu(0).PreFaultMemory(ref args));
        Assert.Equal(0UL, args.Size);
    }

    [Theory]
    [InlineData(G + 0x800, K4)] // Case068: unaligned gpa
    [InlineData(G, 0x800)] // Case069: unaligned size
    [InlineData(G, 0)] // Case070: size 0
    [InlineData(0xFFFF_FFFF_FFFF_F000, 0x2000)] // Case071: wrap
    public void Case068To071_BadRange_Einval(ulong gpa, ulong size)
    {
        var vcpu = Vm(KvmVmType.Default).CreateVcpu(0);
        var args = Range(gpa, size);
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vcpu.PreFaultMemory(ref args)));
    }

    /// <summary>Cases 72–75: the upstream selftest's three calls, for DEFAULT, SW_PROTECTED shared and private.</summary>
    [Theory]
    [MemberData(nameof(SelftestVariants))]
    public void Case072To075_SelftestSequence(KvmVmType type, bool isPrivate)
    {
        var vm = Vm(type);
        int? gmem = type == KvmVmType.SwProtected ? vm.Gmem(M2 + K4) : null;
        vm.Slot(0, G, M2 + K4, gmem);
        if (isPrivate)
        {
            vm.SetAttributes(G, M2 + K4, isPrivate: true);
        }

        var vcpu = vm.CreateVcpu(0);

        var a = Range(G, M2); // 72
        Assert.Equal(0, vcpu.PreFaultMemory(ref a));
        Assert.Equal((G + M2, 0UL), (a.Gpa, a.Size));

        var b = Range(G + M2, 2 * K4); // 73: first call progresses one page, then ENOENT with no progress
        Assert.Equal(0, vcpu.PreFaultMemory(ref b));
        Assert.Equal((G + M2 + K4, K4), (b.Gpa, b.Size));
        Assert.Equal(Errno.ENOENT, ErrnoOf(() => vcpu.PreFaultMemory(ref b)));
        Assert.Equal((G + M2 + K4, K4), (b.Gpa, b.Size));

        var c = Range(G + M2 + K4, K4); // 74
        Assert.Equal(Errno.ENOENT, ErrnoOf(() => vcpu.PreFaultMemory(ref c)));
        Assert.Equal(K4, c.Size);
    }

    [Fact]
    public void Case077_PrivateGmemPrefault_AllocatesAndMapsPrivate()
    {
        var vm = Vm();
        int fd = vm.Gmem(M2);
        vm.Slot(0, G, M2, fd);
        vm.SetAttributes(G, M2, isPrivate: true);
        var args = Range(G, M2);
        Assert.Equal(0, vm.CreateVcpu(0).PreFaultMemory(ref args));
        Assert.Equal(512L, vm.GmemFile(fd).Pages.PageCount);
        Assert.Equal(0, vm.GmemFile(fd).Pages.DataPageCount); // allocated, zero, no bytes held
        Assert.All(Enumerable.Range(0, 512), i => Assert.Equal((G / K4 + (ulong)i, PageLevel.Size4K, true), vm.Leaf(G + ((ulong)i * K4))));
    }

    [Fact]
    public void Case078_PrivateAttributeOnNonGmemSlot_EfaultWithMemoryFault()
    {
        var vm = Vm();
        vm.Slot(0, G, M2);
        vm.SetAttributes(G, M2, isPrivate: true);
        var vcpu = vm.CreateVcpu(0);
        var args = Range(G, M2);
        Assert.Equal(Errno.EFAULT, ErrnoOf(() => vcpu.PreFaultMemory(ref args)));
        Assert.Equal(new MemoryFault(new Gpa(G), K4, KvmMemoryExitFlags.Private), vcpu.LastMemoryFault);
        Assert.Equal(M2, args.Size);
    }

    [Fact]
    public void Case079_SignalPendingBeforeCall_EintrStructUnchanged()
    {
        var vm = Vm(KvmVmType.Default);
        vm.Slot(0, G, M2);
        var args = Range(G, M2);
        Assert.Equal(Errno.EINTR, ErrnoOf(() => vm.CreateVcpu(0).PreFaultMemory(ref args, new CancellationToken(canceled: true))));
        Assert.Equal((G, M2), (args.Gpa, args.Size));
        Assert.Null(vm.Leaf(G));
    }

    [Fact]
    public async Task Case080_SignalAfterProgress_ReturnsZeroWithPartialProgress()
    {
        var vm = Vm(KvmVmType.Default);
        vm.Slot(0, G, 4 * M2, backing: M2);
        using var signal = new CancellationTokenSource();
        var args = Range(G, 4 * M2);
        var vcpu = vm.CreateVcpu(0);

        // Hold mmu_lock so the first fault waits; the "signal" arrives while it is in flight, so the
        // first 2M leaf is mapped and the loop stops before the second.
        vm.Mmu.MmuLock.EnterWriteLock();
        var worker = Task.Run(() => vcpu.PreFaultMemory(ref args, signal.Token));
        Assert.True(SpinWait.SpinUntil(() => vm.Mmu.MmuLock.WaitingReadCount > 0, TimeSpan.FromSeconds(10)));
        signal.Cancel();
        vm.Mmu.MmuLock.ExitWriteLock();
        Assert.Equal(0, await worker);
        Assert.Equal((G + M2, 3 * M2), (args.Gpa, args.Size));
    }

    [Fact]
    public void Case081_DefaultVmThpBacked_MapsTheWhole2MNeighbourhood()
    {
        var vm = Vm(KvmVmType.Default);
        vm.Slot(0, G, M2, backing: M2);
        var args = Range(G + K4, K4);
        Assert.Equal(0, vm.CreateVcpu(0).PreFaultMemory(ref args));
        Assert.Equal(0UL, args.Size);
        Assert.Equal((G / K4, PageLevel.Size2M, false), vm.Leaf(G));
        Assert.Equal(new MmuStats(0, 1, 0), vm.Mmu.Stats);
    }

    [Fact]
    public void Case082_MixedRegion_MapsOnlyTheRequestedPage()
    {
        var vm = Vm();
        int fd = vm.Gmem(M2);
        vm.Slot(0, G, M2, fd, backing: M2);
        vm.SetAttributes(G + (8 * K4), K4, isPrivate: true); // makes [G, G+2M) MIXED
        var args = Range(G + K4, K4);
        Assert.Equal(0, vm.CreateVcpu(0).PreFaultMemory(ref args));
        Assert.Equal([new MappedRange(new Gpa(G + K4), new Gpa(G + (2 * K4)), PageLevel.Size4K, false, 1)], vm.Mmu.Dump());
    }

    [Fact]
    public void Case082_DirtyLoggingSlot_MapsOnlyTheRequestedPage()
    {
        var vm = Vm(KvmVmType.Default);
        vm.Slot(0, G, M2, flags: KvmMemFlags.LogDirtyPages, backing: M2);
        var args = Range(G + K4, K4);
        Assert.Equal(0, vm.CreateVcpu(0).PreFaultMemory(ref args));
        Assert.Equal(new MmuStats(1, 0, 0), vm.Mmu.Stats);
    }

    [Fact]
    public void Case083_PrefaultedLeafIsNotAccessed()
    {
        var vm = Vm(KvmVmType.Default);
        vm.Slot(0, G, M2);
        var args = Range(G, K4);
        vm.CreateVcpu(0).PreFaultMemory(ref args);
        Assert.False(vm.Mmu.Lookup(G / K4)!.Value.Leaf.Accessed);
    }

    [Fact]
    public void Case085_CheckExtensionPreFault_FollowsTdpEnabled()
    {
        Assert.Equal(1UL, new Kvm().CheckExtension(KvmCap.PreFaultMemory));
        Assert.Equal(0UL, new Kvm(KvmProfile.Upstream with { TdpEnabled = false }).CheckExtension(KvmCap.PreFaultMemory));
    }

    [Fact]
    public void Case086_NoTdpMmu_Eopnotsupp()
    {
        var vm = Vm(KvmVmType.Default, KvmProfile.Upstream with { TdpEnabled = false });
        vm.Slot(0, G, M2);
        var args = Range(G, K4);
        Assert.Equal(Errno.EOPNOTSUPP, ErrnoOf(() => vm.CreateVcpu(0).PreFaultMemory(ref args)));
    }

    [Theory]
    [InlineData(KvmVmType.Tdx)] // Case087
    [InlineData(KvmVmType.Snp)] // Case088
    public void Case087And088_CocoBeforeFinalize_EopnotsuppThenWorks(KvmVmType type)
    {
        var vm = Vm(type);
        int fd = vm.Gmem(M2);
        vm.Slot(0, G, M2, fd);
        vm.SetAttributes(G, M2, isPrivate: true);
        var vcpu = vm.CreateVcpu(0);
        var args = Range(G, M2);
        Assert.Equal(Errno.EOPNOTSUPP, ErrnoOf(() => vcpu.PreFaultMemory(ref args)));
        vm.AllowPreFault();
        Assert.Equal(0, vcpu.PreFaultMemory(ref args));
        Assert.Equal(new MmuStats(512, 0, 0), vm.Mmu.Stats); // TDX and SNP private memory: 4K only
    }

    [Fact]
    public void Case089_TdxSharedBit_EinvalNoProgress()
    {
        var vm = Vm(KvmVmType.Tdx);
        vm.SharedGpaBit = 47;
        vm.AllowPreFault();
        var args = Range((1UL << 47) | G, K4);
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.CreateVcpu(0).PreFaultMemory(ref args)));
    }

    [Fact]
    public async Task Case090_TwoVcpusSameRangeConcurrently_BothComplete()
    {
        var vm = Vm(KvmVmType.Default);
        vm.Slot(0, G, 64 * M2);
        var v0 = vm.CreateVcpu(0);
        var v1 = vm.CreateVcpu(1);
        var results = await Task.WhenAll(
            Task.Run(() => { var a = Range(G, 64 * M2); return (v0.PreFaultMemory(ref a), a.Size); }),
            Task.Run(() => { var a = Range(G, 64 * M2); return (v1.PreFaultMemory(ref a), a.Size); }));
        Assert.All(results, r => Assert.Equal((0, 0UL), r));
        Assert.Equal(new MmuStats(64 * 512, 0, 0), vm.Mmu.Stats);
    }

    [Fact]
    public void Case091_AlreadyMapped_IsFullProgress()
    {
        var vm = Vm(KvmVmType.Default);
        vm.Slot(0, G, M2);
        var vcpu = vm.CreateVcpu(0);
        var a = Range(G, M2);
        vcpu.PreFaultMemory(ref a);
        var b = Range(G, M2);
        Assert.Equal(0, vcpu.PreFaultMemory(ref b));
        Assert.Equal(0UL, b.Size);
    }
}
