using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm.Mmu;
using static CocoLaunch.Kvm.Tests.KvmSetup;

namespace CocoLaunch.Kvm.Tests;

/// <summary>Group B of kvm-memory-model.md §14: memslots v1/v2 with guest_memfd.</summary>
public sealed class MemslotTests
{
    private const ulong Gpa = 0x1_0000_0000;

    private static KvmUserspaceMemoryRegion2 Region(VmFd vm, uint slot, ulong gpa, ulong size, KvmMemFlags flags, int gmemFd = -1, ulong offset = 0) => new()
    {
        Slot = slot,
        Flags = flags,
        GuestPhysAddr = gpa,
        MemorySize = size,
        UserspaceAddr = vm.HostMemory(size).Value,
        GuestMemfd = gmemFd,
        GuestMemfdOffset = offset,
    };

    [Fact]
    public void Case025_V1WithGuestMemfdFlag_Einval()
    {
        var vm = Vm();
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.SetUserMemoryRegion(Region(vm, 0, Gpa, M2, KvmMemFlags.GuestMemfd).V1)));
    }

    [Fact]
    public void Case026_UnknownFlagBits_EinvalInV1AndV2()
    {
        var vm = Vm();
        for (int bit = 3; bit < 32; bit++)
        {
            var flags = (KvmMemFlags)(1u << bit);
            Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.SetUserMemoryRegion(Region(vm, 0, Gpa, M2, flags).V1)));
            Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.SetUserMemoryRegion2(Region(vm, 0, Gpa, M2, flags))));
        }
    }

    [Theory]
    [InlineData(KvmMemFlags.LogDirtyPages)] // Case027
    [InlineData(KvmMemFlags.Readonly)] // Case028
    public void Case027And028_GuestMemfdWithDirtyLogOrReadonly_Einval(KvmMemFlags extra)
    {
        var vm = Vm();
        int fd = vm.Gmem(M2);
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.SetUserMemoryRegion2(Region(vm, 0, Gpa, M2, KvmMemFlags.GuestMemfd | extra, fd))));
    }

    [Fact]
    public void Case029To031_FdThatIsNotAGuestMemfd_Einval()
    {
        var vm = Vm();
        int memfd = vm.Kvm.Fds.OpenMemfd();
        foreach (int fd in new[] { vm.Kvm.Fd, vm.Fd, memfd })
        {
            Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.SetUserMemoryRegion2(Region(vm, 0, Gpa, M2, KvmMemFlags.GuestMemfd, fd))));
        }
    }

    [Fact]
    public void Case032_AnotherVmsGuestMemfd_EinvalOwnVmWorks()
    {
        var kvm = new Kvm();
        var vm1 = kvm.CreateVm(KvmVmType.SwProtected);
        var vm2 = kvm.CreateVm(KvmVmType.SwProtected);
        int fd = vm1.Gmem(M2);
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm2.SetUserMemoryRegion2(Region(vm2, 0, Gpa, M2, KvmMemFlags.GuestMemfd, fd))));
        vm1.SetUserMemoryRegion2(Region(vm1, 0, Gpa, M2, KvmMemFlags.GuestMemfd, fd));
        Assert.Single(vm1.Memslots);
    }

    [Fact]
    public void Case033_UnalignedGmemOffset_Einval()
    {
        var vm = Vm();
        int fd = vm.Gmem(2 * M2);
        for (ulong offset = 1; offset < K4; offset += 97)
        {
            ulong o = offset;
            Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.SetUserMemoryRegion2(Region(vm, 0, Gpa, M2, KvmMemFlags.GuestMemfd, fd, o))));
        }
    }

    [Fact]
    public void Case034_ClosedFdNumber_Ebadf()
    {
        var vm = Vm();
        int fd = vm.Gmem(M2);
        vm.Kvm.Fds.Close(fd);
        Assert.Equal(Errno.EBADF, ErrnoOf(() => vm.SetUserMemoryRegion2(Region(vm, 0, Gpa, M2, KvmMemFlags.GuestMemfd, fd))));
    }

    [Fact]
    public void Case035_RangePastEndOfFile_Einval()
    {
        var vm = Vm();
        int fd = vm.Gmem(M2);
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.SetUserMemoryRegion2(Region(vm, 0, Gpa, M2, KvmMemFlags.GuestMemfd, fd, K4))));
    }

    [Fact]
    public void Case036_OverlappingGmemOffsets_SecondSlotEinval()
    {
        var vm = Vm();
        int fd = vm.Gmem(4 * M2);
        vm.SetUserMemoryRegion2(Region(vm, 0, Gpa, 2 * M2, KvmMemFlags.GuestMemfd, fd, 0));
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.SetUserMemoryRegion2(Region(vm, 1, Gpa + G1, 2 * M2, KvmMemFlags.GuestMemfd, fd, M2))));
    }

    [Fact]
    public void Case037_OverlappingGpaRanges_Eexist()
    {
        var vm = Vm();
        int fd = vm.Gmem(4 * M2);
        ulong x = 0x4000_0000;
        vm.SetUserMemoryRegion2(Region(vm, 10, x, 2 * M2, KvmMemFlags.GuestMemfd, fd, 0));
        vm.SetUserMemoryRegion2(Region(vm, 11, 2 * x, 2 * M2, KvmMemFlags.GuestMemfd, fd, 2 * M2));
        vm.DeleteSlot(10);
        Assert.Equal(Errno.EEXIST, ErrnoOf(() => vm.SetUserMemoryRegion2(Region(vm, 10, (2 * x) - M2, 2 * M2, KvmMemFlags.GuestMemfd, fd, 0))));
        Assert.Equal(Errno.EEXIST, ErrnoOf(() => vm.SetUserMemoryRegion2(Region(vm, 10, (2 * x) + M2, 2 * M2, KvmMemFlags.GuestMemfd, fd, 0))));
    }

    [Fact]
    public void Case038_ReissueGmemSlotUnchanged_Einval()
    {
        var vm = Vm();
        int fd = vm.Gmem(M2);
        var r = Region(vm, 0, Gpa, M2, KvmMemFlags.GuestMemfd, fd);
        vm.SetUserMemoryRegion2(r);
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.SetUserMemoryRegion2(r)));
    }

    [Fact]
    public void Case039_DeleteTwice_SecondEinval()
    {
        var vm = Vm();
        vm.Slot(0, Gpa, M2, vm.Gmem(M2));
        vm.DeleteSlot(0);
        Assert.Empty(vm.Memslots);
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.DeleteSlot(0)));
    }

    [Fact]
    public void Case040_MaxSlots_AllSucceedThenEinval()
    {
        var vm = Vm(KvmVmType.Default);
        int max = (int)vm.CheckExtension(KvmCap.NrMemslots);
        Assert.Equal(32764, max);
        var hva = vm.HostMemory((ulong)max * M2);
        for (int i = 0; i < max; i++)
        {
            vm.SetUserMemoryRegion(new KvmUserspaceMemoryRegion { Slot = (uint)i, GuestPhysAddr = (ulong)i * M2, MemorySize = M2, UserspaceAddr = hva.Value + ((ulong)i * M2) });
        }

        Assert.Equal(max, vm.Memslots.Count);
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.SetUserMemoryRegion(new KvmUserspaceMemoryRegion { Slot = (uint)max, GuestPhysAddr = (ulong)max * M2, MemorySize = M2, UserspaceAddr = hva.Value })));
    }

    [Fact]
    public void Case041_GmemOffsetWraps_Einval()
    {
        var vm = Vm();
        int fd = vm.Gmem(M2);
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.SetUserMemoryRegion2(Region(vm, 0, Gpa, 0x2000, KvmMemFlags.GuestMemfd, fd, 0xFFFF_FFFF_FFFF_F000))));
    }

    [Fact]
    public void Case042_ReissueV1Unchanged_IsANoOp()
    {
        var vm = Vm(KvmVmType.Default);
        var r = Region(vm, 0, Gpa, M2, 0).V1;
        vm.SetUserMemoryRegion(r);
        vm.SetUserMemoryRegion(r);
        Assert.Single(vm.Memslots);
    }

    [Fact]
    public void Case043_DeleteUnderPrefault_ThenMmioThenRecreated()
    {
        var vm = Vm(KvmVmType.Default);
        vm.Slot(0, Gpa, M2);
        var vcpu = vm.CreateVcpu(0);
        var a = Range(Gpa, K4);
        vcpu.PreFaultMemory(ref a);
        vm.DeleteSlot(0);
        Assert.Null(vm.Leaf(Gpa));
        var b = Range(Gpa, K4);
        Assert.Equal(Errno.ENOENT, ErrnoOf(() => vcpu.PreFaultMemory(ref b))); // no slot: the GPA is MMIO now
        vm.Slot(0, Gpa, M2);
        Assert.Equal(0, vcpu.PreFaultMemory(ref b));
    }

    [Fact]
    public void Case045_MoveSlot_ZapsOldMappingsAndServesNewGpa()
    {
        var vm = Vm(KvmVmType.Default);
        var r = Region(vm, 0, Gpa, M2, 0);
        vm.SetUserMemoryRegion2(r);
        var vcpu = vm.CreateVcpu(0);
        var a = Range(Gpa, M2);
        vcpu.PreFaultMemory(ref a);
        vm.SetUserMemoryRegion2(r with { GuestPhysAddr = Gpa + G1 });
        Assert.Null(vm.Leaf(Gpa));
        var b = Range(Gpa + G1, K4);
        Assert.Equal(0, vcpu.PreFaultMemory(ref b));
        var c = Range(Gpa, K4);
        Assert.Equal(Errno.ENOENT, ErrnoOf(() => vcpu.PreFaultMemory(ref c)));
    }

    [Fact]
    public void SlotIdAndAddressSpace_PrivateVmHasOneAddressSpace()
    {
        var def = Vm(KvmVmType.Default);
        def.SetUserMemoryRegion2(Region(def, (1u << 16) | 3, Gpa, M2, 0)); // SMM address space exists
        var sw = Vm();
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => sw.SetUserMemoryRegion2(Region(sw, (1u << 16) | 3, Gpa, M2, 0))));
    }

    [Fact]
    public void FlagsOnlyChange_EnablingDirtyLogKeepsSlot()
    {
        var vm = Vm(KvmVmType.Default);
        var r = Region(vm, 0, Gpa, M2, 0);
        vm.SetUserMemoryRegion2(r);
        vm.SetUserMemoryRegion2(r with { Flags = KvmMemFlags.LogDirtyPages });
        Assert.Equal(KvmMemFlags.LogDirtyPages, Assert.Single(vm.Memslots).Flags);
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.SetUserMemoryRegion2(r with { Flags = KvmMemFlags.Readonly })));
    }

    [Fact]
    public void ReadonlyOnVmWithProtectedState_Einval()
    {
        var vm = Vm(KvmVmType.Tdx);
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.SetUserMemoryRegion2(Region(vm, 0, Gpa, M2, KvmMemFlags.Readonly))));
    }

    [Fact]
    public void DeleteOnSwProtected_ZapsOnlyThatSlot()
    {
        var vm = Vm();
        vm.Slot(0, Gpa, M2);
        vm.Slot(1, Gpa + G1, M2);
        var vcpu = vm.CreateVcpu(0);
        var a = Range(Gpa, M2);
        var b = Range(Gpa + G1, M2);
        vcpu.PreFaultMemory(ref a);
        vcpu.PreFaultMemory(ref b);
        vm.DeleteSlot(0);
        Assert.Equal(new MmuStats(512, 0, 0), vm.Mmu.Stats);
    }
}
