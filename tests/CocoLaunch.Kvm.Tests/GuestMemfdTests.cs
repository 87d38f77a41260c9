using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Memory;
using static CocoLaunch.Kvm.Tests.KvmSetup;

namespace CocoLaunch.Kvm.Tests;

/// <summary>Group A of kvm-memory-model.md §14: guest_memfd create and file operations.</summary>
public sealed class GuestMemfdTests
{
    private const ulong Total = 4 * K4;

    [Fact]
    public void Case001_SizesBelowOnePage_Einval()
    {
        var vm = Vm();
        for (ulong size = 1; size < K4; size++)
        {
            ulong s = size;
            Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.Gmem(s)));
        }
    }

    [Theory]
    [InlineData(0UL)] // Case002
    [InlineData(0x8000_0000_0000_0000UL)] // Case003: negative as loff_t
    public void Case002And003_ZeroOrNegativeSize_Einval(ulong size) => Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm().Gmem(size)));

    [Theory]
    [InlineData(KvmVmType.Default)]
    [InlineData(KvmVmType.SwProtected)]
    public void Case004_EveryFlagBit_SucceedsIffReported(KvmVmType type)
    {
        var vm = Vm(type);
        ulong supported = vm.CheckExtension(KvmCap.GuestMemfdFlags);
        for (int b = 0; b < 64; b++)
        {
            var flags = (GuestMemfdFlags)(1UL << b);
            if ((supported & (1UL << b)) != 0)
            {
                vm.Gmem(K4, flags);
            }
            else
            {
                Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.Gmem(K4, flags)));
            }
        }
    }

    [Fact]
    public void Case005_TwoFiles_OwnSizesAndInodes()
    {
        var vm = Vm();
        var a = vm.GmemFile(vm.Gmem(K4));
        var b = vm.GmemFile(vm.Gmem(2 * K4));
        Assert.Equal(K4, a.Stat().Size);
        Assert.Equal(2 * K4, b.Stat().Size);
        Assert.NotEqual(a.Stat().Inode, b.Stat().Inode);
    }

    [Fact]
    public void Case006_Fstat_SizeAndBlockSize()
    {
        var vm = Vm();
        Assert.Equal((Total, K4), vm.GmemFile(vm.Gmem(Total)).Stat() is var s ? (s.Size, s.BlockSize) : default);
    }

    [Fact]
    public void Case007_ReadWritePreadPwrite_AllFail()
    {
        Assert.Equal(Errno.EINVAL, ErrnoOf(GuestMemfd.Read));
        Assert.Equal(Errno.EINVAL, ErrnoOf(GuestMemfd.Write));
        Assert.Equal(Errno.ESPIPE, ErrnoOf(GuestMemfd.PositionalIo));
    }

    [Fact]
    public void Case008_MmapWithoutFlag_Enodev()
    {
        var vm = Vm();
        var file = vm.GmemFile(vm.Gmem(Total));
        Assert.Equal(Errno.ENODEV, ErrnoOf(() => vm.Kvm.Host.MapGuestMemfd(file, 0, Total, shared: true)));
    }

    [Fact]
    public void Case009_MmapPrivateMapping_Einval()
    {
        var vm = Vm(KvmVmType.Default);
        var file = vm.GmemFile(vm.Gmem(Total, GuestMemfdFlags.Mmap));
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.Kvm.Host.MapGuestMemfd(file, 0, Total, shared: false)));
    }

    /// <summary>INIT_SHARED needs a VM without private-attribute tracking, so cases 10–13 use a DEFAULT VM (case 22).</summary>
    [Fact]
    public void Case010_MmapMemsetThenPunchHole_PageZeroReadsZero()
    {
        var vm = Vm(KvmVmType.Default);
        var file = vm.GmemFile(vm.Gmem(Total, GuestMemfdFlags.Mmap | GuestMemfdFlags.InitShared));
        var host = vm.Kvm.Host;
        var at = host.MapGuestMemfd(file, 0, Total, shared: true);
        host.Write(at, Enumerable.Repeat((byte)0xAA, (int)Total).ToArray());
        file.Fallocate(FallocateMode.KeepSize | FallocateMode.PunchHole, 0, K4);
        var back = new byte[Total];
        host.Read(at, back);
        Assert.All(back[..(int)K4], b => Assert.Equal(0, b));
        Assert.All(back[(int)K4..], b => Assert.Equal(0xAA, b));
    }

    [Fact]
    public void Case011_MmapBeyondFileSize_Sigbus()
    {
        var vm = Vm(KvmVmType.Default);
        var file = vm.GmemFile(vm.Gmem(Total, GuestMemfdFlags.Mmap | GuestMemfdFlags.InitShared));
        var host = vm.Kvm.Host;
        var at = host.MapGuestMemfd(file, 0, 4 * Total, shared: true);
        host.Write(at, [1, 2, 3]);
        var e = Assert.Throws<HostFaultException>(() => host.Write(at.CheckedAdd(Total), [9]));
        Assert.Equal("SIGBUS", e.Signal);
        var back = new byte[3];
        host.Read(at, back);
        Assert.Equal([1, 2, 3], back);
    }

    [Fact]
    public void Case012_MmapWithoutInitShared_AccessSigbus()
    {
        var vm = Vm(KvmVmType.Default);
        var file = vm.GmemFile(vm.Gmem(Total, GuestMemfdFlags.Mmap));
        var at = vm.Kvm.Host.MapGuestMemfd(file, 0, Total, shared: true);
        Assert.Equal("SIGBUS", Assert.Throws<HostFaultException>(() => vm.Kvm.Host.Read(at, new byte[1])).Signal);
    }

    [Fact]
    public void Case014To016_FallocateBounds()
    {
        var vm = Vm();
        var file = vm.GmemFile(vm.Gmem(Total));
        file.Fallocate(FallocateMode.KeepSize, 0, Total); // 14
        Assert.Equal(4L, file.Pages.PageCount);
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => file.Fallocate(FallocateMode.KeepSize, Total, K4))); // 15
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => file.Fallocate(FallocateMode.KeepSize, Total + K4, K4)));
        file.Fallocate(FallocateMode.KeepSize | FallocateMode.PunchHole, Total, K4); // 16
        file.Fallocate(FallocateMode.KeepSize | FallocateMode.PunchHole, Total + K4, K4);
        Assert.Equal(4L, file.Pages.PageCount);
    }

    [Theory]
    [InlineData(0UL, 1UL)]
    [InlineData(0UL, 4095UL)]
    [InlineData(0UL, 4097UL)]
    [InlineData(1UL, 1UL)]
    [InlineData(1UL, 4095UL)]
    [InlineData(1UL, 4096UL)]
    [InlineData(1UL, 4097UL)]
    [InlineData(4096UL, 1UL)]
    [InlineData(4096UL, 4095UL)]
    [InlineData(4096UL, 4097UL)]
    public void Case017_UnalignedPunchHole_Einval(ulong offset, ulong length)
    {
        var vm = Vm();
        var file = vm.GmemFile(vm.Gmem(Total));
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => file.Fallocate(FallocateMode.KeepSize | FallocateMode.PunchHole, offset, length)));
    }

    [Theory]
    [InlineData(FallocateMode.Allocate)] // Case018: no KEEP_SIZE
    [InlineData(FallocateMode.KeepSize | FallocateMode.ZeroRange)] // Case019
    public void Case018And019_UnsupportedModes_Eopnotsupp(FallocateMode mode)
    {
        var vm = Vm();
        var file = vm.GmemFile(vm.Gmem(Total));
        Assert.Equal(Errno.EOPNOTSUPP, ErrnoOf(() => file.Fallocate(mode, 0, K4)));
    }

    [Fact]
    public void Case020_Ftruncate_EinvalSizeUnchanged()
    {
        var vm = Vm();
        var file = vm.GmemFile(vm.Gmem(Total));
        Assert.Equal(Errno.EINVAL, ErrnoOf(GuestMemfd.SetAttr));
        Assert.Equal(Total, file.Size);
    }

    [Fact]
    public void Case021_VmFdClosed_FallocateStillWorks()
    {
        var vm = Vm();
        int fd = vm.Gmem(Total);
        vm.Kvm.Fds.Close(vm.Fd);
        var file = vm.GmemFile(fd);
        file.Fallocate(FallocateMode.KeepSize | FallocateMode.PunchHole, 0, Total);
        file.Fallocate(FallocateMode.KeepSize, 0, Total);
        Assert.Equal(4L, file.Pages.PageCount);
    }

    [Fact]
    public void Case022_DefaultVm_ReportsMmapAndInitShared()
    {
        Assert.Equal((ulong)(GuestMemfdFlags.Mmap | GuestMemfdFlags.InitShared), Vm(KvmVmType.Default).CheckExtension(KvmCap.GuestMemfdFlags));
        Assert.Equal((ulong)GuestMemfdFlags.Mmap, Vm(KvmVmType.SwProtected).CheckExtension(KvmCap.GuestMemfdFlags));
    }

    [Fact]
    public void Case024_PoisonedPage_PrivateFaultGetsEhwpoison()
    {
        var vm = Vm();
        int fd = vm.Gmem(Total);
        vm.Slot(0, 0x1_0000_0000, Total, fd);
        vm.SetAttributes(0x1_0000_0000, Total, isPrivate: true);
        vm.GmemFile(fd).Poison(1);
        var vcpu = vm.CreateVcpu(0);
        var args = Range(0x1_0000_0000 + K4, K4);
        Assert.Equal(Errno.EHWPOISON, ErrnoOf(() => vcpu.PreFaultMemory(ref args)));
        Assert.Equal(KvmMemoryExitFlags.Private, vcpu.LastMemoryFault!.Flags);
    }
}
