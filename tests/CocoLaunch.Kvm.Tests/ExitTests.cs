using CocoLaunch.Tests.Shared;
using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using static CocoLaunch.Kvm.Tests.KvmSetup;

namespace CocoLaunch.Kvm.Tests;

/// <summary>Groups D and F of kvm-memory-model.md §14, plus KVM_RUN cases 23, 43 and 44.</summary>
public sealed class ExitTests
{
    private const ulong C0 = 0xC000_0000;

    private static Gpa At(ulong v) => new(v);

    [Fact]
    public void Case023_DefaultVmGmemMmap_HostAndGuestSeeEachOthersWrites()
    {
        var vm = Vm(KvmVmType.Default);
        int fd = vm.Gmem(K4, GuestMemfdFlags.Mmap | GuestMemfdFlags.InitShared);
        var file = vm.GmemFile(fd);
        var host = vm.Kvm.Host.MapGuestMemfd(file, 0, K4, shared: true);
        vm.SetUserMemoryRegion2(new KvmUserspaceMemoryRegion2 { Slot = 0, Flags = KvmMemFlags.GuestMemfd, GuestPhysAddr = 0x1_0000_0000, MemorySize = K4, UserspaceAddr = host.Value, GuestMemfd = fd });
        vm.Kvm.Host.Write(host, Enumerable.Repeat((byte)0xAA, (int)K4).ToArray());
        var guest = new ScriptedGuest(new GuestAction.Read(At(0x1_0000_0000), 4096), new GuestAction.Write(At(0x1_0000_0000), Enumerable.Repeat((byte)0xFF, 4096).ToArray()));
        var vcpu = vm.CreateVcpu(0);
        vcpu.SetGuest(guest);
        Assert.IsType<KvmExit.Shutdown>(vcpu.Run());
        Assert.All(guest.Results[0].Data!, b => Assert.Equal(0xAA, b));
        var back = new byte[K4];
        vm.Kvm.Host.Read(host, back);
        Assert.All(back, b => Assert.Equal(0xFF, b));
    }

    [Fact]
    public void Case043_DeletedSlot_GuestReadBecomesMmio()
    {
        var vm = Vm(KvmVmType.Default);
        vm.Slot(0, C0, K4);
        var vcpu = vm.CreateVcpu(0);
        var guest = new LoopingGuest(new GuestAction.Read(At(C0), 8));
        vcpu.SetGuest(guest);
        Assert.IsType<KvmExit.Hlt>(vcpu.Run());
        vm.DeleteSlot(0);
        vm.Slot(1, 0, K4); // keep one slot so KVM_RUN is legal
        vcpu.SetGuest(new LoopingGuest(new GuestAction.Read(At(C0), 8)));
        var mmio = Assert.IsType<KvmExit.Mmio>(vcpu.Run());
        Assert.Equal((At(C0), 8, false), (mmio.Address, mmio.Length, mmio.IsWrite));
    }

    [Fact]
    public void Case044_NoMemslots_InternalError()
    {
        var vcpu = Vm(KvmVmType.Default).CreateVcpu(0);
        vcpu.SetGuest(new ScriptedGuest(new GuestAction.Halt()));
        Assert.IsType<KvmExit.InternalError>(vcpu.Run());
    }

    [Fact]
    public void Case060_SlotDeletedUnderPrivateAccess_MemoryFaultPrivate()
    {
        var vm = Vm();
        vm.Slot(0, C0, K4, vm.Gmem(K4));
        vm.Slot(1, 0, K4);
        vm.SetAttributes(C0, K4, isPrivate: true);
        var vcpu = vm.CreateVcpu(0);
        vcpu.SetGuest(new LoopingGuest(new GuestAction.Read(At(C0), 8)));
        Assert.IsType<KvmExit.Hlt>(vcpu.Run());
        vm.DeleteSlot(0);
        vcpu.SetGuest(new LoopingGuest(new GuestAction.Read(At(C0), 8)));
        var exit = Assert.IsType<KvmExit.MemoryFault>(vcpu.Run());
        Assert.Equal((Errno.EFAULT, KvmExitReason.MemoryFault), (exit.Errno, exit.Reason));
        Assert.Equal(new MemoryFault(At(C0), 4096, KvmMemoryExitFlags.Private), exit.Info);
    }

    [Fact]
    public void Case061_PrivateOnSlotWithoutGmem_MemoryFaultPrivate()
    {
        var vm = Vm();
        vm.Slot(0, C0, K4);
        vm.SetAttributes(C0, K4, isPrivate: true);
        var vcpu = vm.CreateVcpu(0);
        vcpu.SetGuest(new LoopingGuest(new GuestAction.Read(At(C0), 8)));
        var exit = Assert.IsType<KvmExit.MemoryFault>(vcpu.Run());
        Assert.Equal(new MemoryFault(At(C0), 4096, KvmMemoryExitFlags.Private), exit.Info);
    }

    [Fact]
    public void Case062_GmemClosed_PrivateFaultEfault()
    {
        var vm = Vm();
        int fd = vm.Gmem(K4);
        vm.Slot(0, C0, K4, fd);
        vm.SetAttributes(C0, K4, isPrivate: true);
        vm.Kvm.Fds.Close(fd);
        var vcpu = vm.CreateVcpu(0);
        vcpu.SetGuest(new LoopingGuest(new GuestAction.Read(At(C0), 8)));
        var exit = Assert.IsType<KvmExit.MemoryFault>(vcpu.Run());
        Assert.Equal((Errno.EFAULT, KvmMemoryExitFlags.Private), (exit.Errno, exit.Info.Flags));
    }

    [Theory]
    [InlineData(true, false, KvmMemoryExitFlags.Private)] // private access to a shared GFN
    [InlineData(false, true, KvmMemoryExitFlags.None)] // shared access to a private GFN
    public void Case063_TdxAccessAttributeMismatch_MemoryFault(bool privateAccess, bool privateAttribute, KvmMemoryExitFlags flags)
    {
        var vm = Vm(KvmVmType.Tdx);
        var vcpu = vm.RunnableTd();
        vm.Slot(0, C0, K4, vm.Gmem(K4));
        vm.SetAttributes(C0, K4, privateAttribute);
        vcpu.SetGuest(new ScriptedGuest(new GuestAction.Read(At(C0), 8, privateAccess)));
        var exit = Assert.IsType<KvmExit.MemoryFault>(vcpu.Run());
        Assert.Equal(new MemoryFault(At(C0), 4096, flags), exit.Info);
    }

    [Fact]
    public void Case065_MemoryFaultInfoCap() => Assert.Equal(1UL, Vm().CheckExtension(KvmCap.MemoryFaultInfo));

    [Fact]
    public void Case093And094_ExitHypercallCap()
    {
        var vm = Vm();
        Assert.Equal(0x1000UL, vm.CheckExtension(KvmCap.ExitHypercall));
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.EnableCap(new KvmEnableCap { Cap = KvmCap.ExitHypercall, Arg0 = 1UL << 11 })));
        vm.EnableCap(new KvmEnableCap { Cap = KvmCap.ExitHypercall, Arg0 = 1UL << 12 });
        Assert.Equal(0x1000UL, vm.HypercallExitMask);
    }

    [Fact]
    public void Case095_MapGpaRangeNotEnabled_Enosys()
    {
        var (vcpu, guest) = HypercallVcpu(enable: false, new GuestAction.Hypercall(12, 0x1_0000_0000, 1, 0x10));
        Assert.IsType<KvmExit.Shutdown>(vcpu.Run());
        Assert.Equal(KvmHypercallError.ENoSys, guest.Results[0].Rax);
    }

    [Theory]
    [InlineData(0x1001UL, 1UL, true)]
    [InlineData(0x1000UL, 0UL, true)]
    [InlineData(0x1000UL, ulong.MaxValue, true)]
    [InlineData(0xFFFF_FFFF_FFFF_F000UL, 2UL, false)] // gfn + npages does not wrap: it exits
    public void Case096_ArgumentChecks_EinvalWithoutExit(ulong a0, ulong a1, bool rejected)
    {
        var (vcpu, guest) = HypercallVcpu(enable: true, new GuestAction.Hypercall(12, a0, a1, 0));
        var exit = vcpu.Run();
        if (rejected)
        {
            Assert.IsType<KvmExit.Shutdown>(exit);
            Assert.Equal(KvmHypercallError.EInval, guest.Results[0].Rax);
        }
        else
        {
            Assert.IsType<KvmExit.Hypercall>(exit);
        }
    }

    [Fact]
    public void Case097To099_ExitThenRetReachesGuest()
    {
        var (vcpu, guest) = HypercallVcpu(enable: true, new GuestAction.Hypercall(12, 0x1_0000_0000, 1, 0x13), new GuestAction.Hypercall(12, 0x1_0000_0000, 1, 0x13));
        var exit = Assert.IsType<KvmExit.Hypercall>(vcpu.Run()); // 97
        Assert.Equal((KvmExitReason.Hypercall, 12UL, 0x1_0000_0000UL, 1UL, 0x13UL, 0UL, 1UL), (exit.Reason, exit.Nr, exit.Args[0], exit.Args[1], exit.Args[2], exit.Ret, exit.Flags));
        exit.Ret = 0; // 98
        var second = Assert.IsType<KvmExit.Hypercall>(vcpu.Run());
        Assert.Equal(0UL, guest.Results[0].Rax);
        second.Ret = 0xFFFF_FFFF_FFFF_FFEA; // 99
        Assert.IsType<KvmExit.Shutdown>(vcpu.Run());
        Assert.Equal(0xFFFF_FFFF_FFFF_FFEAUL, guest.Results[1].Rax);
    }

    [Fact]
    public void Case099_32BitGuest_RetTruncated()
    {
        var (vcpu, guest) = HypercallVcpu(enable: true, new GuestAction.Hypercall(12, 0x1000, 1, 0x10, LongMode: false));
        var exit = Assert.IsType<KvmExit.Hypercall>(vcpu.Run());
        Assert.Equal(0UL, exit.Flags);
        exit.Ret = 0xFFFF_FFFF_FFFF_FFEA;
        vcpu.Run();
        Assert.Equal(0xFFFF_FFEAUL, guest.Results[0].Rax);
    }

    [Fact]
    public void Case100_Cpl3_Eperm()
    {
        var (vcpu, guest) = HypercallVcpu(enable: true, new GuestAction.Hypercall(12, 0x1000, 1, 0x10, Cpl: 3));
        Assert.IsType<KvmExit.Shutdown>(vcpu.Run());
        Assert.Equal(KvmHypercallError.EPerm, guest.Results[0].Rax);
    }

    private static (VcpuFd Vcpu, ScriptedGuest Guest) HypercallVcpu(bool enable, params GuestAction[] actions)
    {
        var vm = Vm();
        vm.Slot(0, 0, M2);
        if (enable)
        {
            vm.EnableCap(new KvmEnableCap { Cap = KvmCap.ExitHypercall, Arg0 = 1UL << 12 });
        }

        var vcpu = vm.CreateVcpu(0);
        var guest = new ScriptedGuest(actions);
        vcpu.SetGuest(guest);
        return (vcpu, guest);
    }
}
