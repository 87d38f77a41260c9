using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm.Mmu;
using static CocoLaunch.Kvm.Tests.KvmSetup;

namespace CocoLaunch.Kvm.Tests;

/// <summary>Group C of kvm-memory-model.md §14: KVM_SET_MEMORY_ATTRIBUTES and hugepages.</summary>
public sealed class AttributeTests
{
    private const ulong Gpa = 0x1_0000_0000; // 1G aligned

    private static KvmMemoryAttributesArgs Args(ulong address, ulong size, KvmMemoryAttributes attributes = KvmMemoryAttributes.Private, ulong flags = 0) =>
        new() { Address = address, Size = size, Attributes = attributes, Flags = flags };

    [Fact]
    public void Case046_FlagsNonZero_Einval() => Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm().SetMemoryAttributes(Args(Gpa, K4, flags: 1))));

    [Fact]
    public void Case047_UnsupportedAttributes_Einval()
    {
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm().SetMemoryAttributes(Args(Gpa, K4, (KvmMemoryAttributes)1))));
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm(KvmVmType.Default).SetMemoryAttributes(Args(Gpa, K4))));
    }

    [Fact]
    public void Case048_SizeZero_Einval() => Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm().SetMemoryAttributes(Args(Gpa, 0))));

    [Fact]
    public void Case049_Wrap_Einval() => Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm().SetMemoryAttributes(Args(0xFFFF_FFFF_FFFF_F000, 0x2000))));

    [Theory]
    [InlineData(0x1001UL, 0x1000UL)]
    [InlineData(0x1000UL, 0x1001UL)]
    public void Case050_Unaligned_Einval(ulong address, ulong size) => Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm().SetMemoryAttributes(Args(address, size))));

    [Fact]
    public void Case051_NoMemslot_IsAccepted()
    {
        var vm = Vm();
        vm.SetMemoryAttributes(Args(Gpa, M2));
        Assert.Equal(KvmMemoryAttributes.Private, vm.AttributesOf((Gpa + K4) / K4));
        Assert.Equal(KvmMemoryAttributes.None, vm.AttributesOf((Gpa + M2) / K4));
    }

    [Fact]
    public void Case052_CheckExtensionMemoryAttributes()
    {
        Assert.Equal(8UL, new Kvm().CheckExtension(KvmCap.MemoryAttributes));
        Assert.Equal(8UL, Vm().CheckExtension(KvmCap.MemoryAttributes));
        Assert.Equal(0UL, Vm(KvmVmType.Default).CheckExtension(KvmCap.MemoryAttributes));
    }

    [Fact]
    public void Case053_SameAttributesTwice_NoZap()
    {
        var vm = Vm();
        int fd = vm.Gmem(M2);
        vm.Slot(0, Gpa, M2, fd);
        vm.SetAttributes(Gpa, M2, isPrivate: true);
        var args = Range(Gpa, M2);
        vm.CreateVcpu(0).PreFaultMemory(ref args);
        vm.SetAttributes(Gpa, M2, isPrivate: true);
        Assert.Equal(new MmuStats(512, 0, 0), vm.Mmu.Stats);
    }

    [Fact]
    public void Case054And055_OnePrivatePageMakes2MMixed_ThenUniformAgain()
    {
        var vm = Vm();
        int fd = vm.Gmem(M2, GuestMemfdFlags.None);
        vm.Slot(0, Gpa, M2, fd, backing: M2);
        var vcpu = vm.CreateVcpu(0);
        var a = Range(Gpa, K4);
        vcpu.PreFaultMemory(ref a);
        Assert.Equal((Gpa / K4, PageLevel.Size2M, false), vm.Leaf(Gpa)); // 54: 2M allowed while uniform

        vm.SetAttributes(Gpa + (5 * K4), K4, isPrivate: true);
        Assert.Null(vm.Leaf(Gpa)); // the 2M SPTE was zapped
        Assert.True(vm.Memslots[0].Lpage2M.IsMixed(Gpa / K4));
        var b = Range(Gpa, K4);
        vcpu.PreFaultMemory(ref b);
        Assert.Equal((Gpa / K4, PageLevel.Size4K, false), vm.Leaf(Gpa));

        vm.SetAttributes(Gpa + (5 * K4), K4, isPrivate: false); // 55
        Assert.False(vm.Memslots[0].Lpage2M.IsMixed(Gpa / K4));
        var c = Range(Gpa + K4, K4);
        vcpu.PreFaultMemory(ref c);
        Assert.Equal((Gpa / K4, PageLevel.Size2M, false), vm.Leaf(Gpa + K4));
    }

    [Fact]
    public void Case056_OneMixed2MInsideA1GRegion_Caps1GAt2M()
    {
        var vm = Vm();
        vm.Slot(0, Gpa, G1, vm.Gmem(G1), backing: G1);
        var vcpu = vm.CreateVcpu(0);
        vm.SetAttributes(Gpa + (300 * M2), K4, isPrivate: true);
        Assert.True(vm.Memslots[0].Lpage1G.IsMixed(Gpa / K4));
        var a = Range(Gpa, M2);
        vcpu.PreFaultMemory(ref a);
        Assert.Equal(PageLevel.Size2M, vm.Leaf(Gpa)!.Value.Level);

        vm.SetAttributes(Gpa + (300 * M2), K4, isPrivate: false);
        Assert.False(vm.Memslots[0].Lpage1G.IsMixed(Gpa / K4));
        var b = Range(Gpa + M2, K4);
        vcpu.PreFaultMemory(ref b);
        Assert.Equal((Gpa / K4, PageLevel.Size1G, false), vm.Leaf(Gpa + M2));
    }

    [Fact]
    public void Case057_ConvertWhole2MRegions_OnlyStraddlingOnesMixed()
    {
        var vm = Vm();
        vm.Slot(0, Gpa, 8 * M2, vm.Gmem(8 * M2), backing: M2);
        vm.SetAttributes(Gpa + M2 - K4, M2 + (2 * K4), isPrivate: true); // covers region 1 fully, straddles 0 and 2
        var info = vm.Memslots[0].Lpage2M;
        Assert.Equal([true, false, true, false], Enumerable.Range(0, 4).Select(i => info.IsMixed((Gpa + ((ulong)i * M2)) / K4)));
    }

    [Fact]
    public void Case058_GuestHostMisaligned_No2MAnywhere()
    {
        var vm = Vm(KvmVmType.Default);
        var hva = vm.HostMemory((4 * M2) + M2, backing: M2);
        vm.SetUserMemoryRegion2(new KvmUserspaceMemoryRegion2 { Slot = 0, GuestPhysAddr = Gpa, MemorySize = 4 * M2, UserspaceAddr = hva.Value + K4, GuestMemfd = -1 });
        var args = Range(Gpa, 4 * M2);
        vm.CreateVcpu(0).PreFaultMemory(ref args);
        Assert.Equal(new MmuStats(4 * 512, 0, 0), vm.Mmu.Stats);
    }

    [Fact]
    public void Case059_DirtyLogging_All4K()
    {
        var vm = Vm(KvmVmType.Default);
        vm.Slot(0, Gpa, 4 * M2, flags: KvmMemFlags.LogDirtyPages, backing: M2);
        var args = Range(Gpa, 4 * M2);
        vm.CreateVcpu(0).PreFaultMemory(ref args);
        Assert.Equal(new MmuStats(4 * 512, 0, 0), vm.Mmu.Stats);
    }

    [Fact]
    public void ToPrivate_ZapsSharedMappingsOnly()
    {
        var vm = Vm();
        vm.Slot(0, Gpa, 2 * M2, vm.Gmem(2 * M2));
        vm.SetAttributes(Gpa + M2, M2, isPrivate: true);
        var vcpu = vm.CreateVcpu(0);
        var args = Range(Gpa, 2 * M2);
        vcpu.PreFaultMemory(ref args);
        Assert.Equal(new MmuStats(1024, 0, 0), vm.Mmu.Stats);
        vm.SetAttributes(Gpa, K4, isPrivate: true);
        Assert.Null(vm.Leaf(Gpa));
        Assert.Equal((Gpa / K4 + 512, PageLevel.Size4K, true), vm.Leaf(Gpa + M2));
        Assert.Equal(new MmuStats(1023, 0, 0), vm.Mmu.Stats);
    }
}
