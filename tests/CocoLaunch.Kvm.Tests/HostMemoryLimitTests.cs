using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Memory;
using CocoLaunch.Tests.Shared;
using static CocoLaunch.Kvm.Tests.KvmSetup;

namespace CocoLaunch.Kvm.Tests;

/// <summary>
/// <see cref="KvmProfile.HostMemoryLimit"/>: a guest touching more pages than the host may give stops at the limit,
/// with a memory-fault exit whose errno says the host could not allocate; nothing beyond the limit exists.
/// </summary>
public sealed class HostMemoryLimitTests
{
    private const ulong Base = 0x1_0000_0000;
    private const int LimitPages = 4;
    private static readonly KvmProfile Limited = KvmProfile.Upstream with { HostMemoryLimit = LimitPages * K4 };

    private static GuestAction[] WriteEveryPage(int pages) =>
        [.. Enumerable.Range(0, pages).Select(i => new GuestAction.Write(new Gpa(Base + ((ulong)i * K4)), [0x5A]))];

    [Fact]
    public void PrivatePagesBeyondTheLimit_KvmRunFailsWithEnomemMemoryFault()
    {
        var vm = Vm(KvmVmType.SwProtected, Limited);
        vm.Slot(0, Base, 16 * K4, vm.Gmem(16 * K4));
        vm.SetAttributes(Base, 16 * K4, isPrivate: true);
        var vcpu = vm.CreateVcpu(0);
        var guest = new ScriptedGuest(WriteEveryPage(8));
        vcpu.SetGuest(guest);

        var fault = Assert.IsType<KvmExit.MemoryFault>(vcpu.Run());

        Assert.Equal((Errno.ENOMEM, new MemoryFault(new Gpa(Base + (LimitPages * K4)), K4, KvmMemoryExitFlags.Private)), (fault.Errno, fault.Info));
        Assert.Equal((LimitPages * K4, 1L), (vm.Kvm.Host.Limit!.ChargedBytes, vm.Kvm.Host.Limit.Refusals));
        Assert.Equal(LimitPages, guest.Results.Count);
    }

    [Fact]
    public void SharedPagesBeyondTheLimit_KvmRunFailsWithEfaultMemoryFault()
    {
        var vm = Vm(KvmVmType.Default, Limited);
        vm.Slot(0, Base, 16 * K4);
        var vcpu = vm.CreateVcpu(0);
        vcpu.SetGuest(new ScriptedGuest(WriteEveryPage(8)));

        var fault = Assert.IsType<KvmExit.MemoryFault>(vcpu.Run());

        Assert.Equal((Errno.EFAULT, new MemoryFault(new Gpa(Base + (LimitPages * K4)), K4, 0)), (fault.Errno, fault.Info));
        Assert.Equal(LimitPages * K4, vm.Kvm.Host.Limit!.ChargedBytes);
    }

    [Fact]
    public void PunchedPagesAreGivenBack_FallocateOverTheLimitIsEnomem()
    {
        var vm = Vm(KvmVmType.SwProtected, Limited);
        var file = vm.GmemFile(vm.Gmem(16 * K4));
        file.Fallocate(FallocateMode.KeepSize, 0, LimitPages * K4);
        Assert.Equal(Errno.ENOMEM, ErrnoOf(() => file.Fallocate(FallocateMode.KeepSize, LimitPages * K4, K4)));

        file.Fallocate(FallocateMode.KeepSize | FallocateMode.PunchHole, 0, 2 * K4);
        file.Fallocate(FallocateMode.KeepSize, 8 * K4, 2 * K4);
        Assert.Equal(LimitPages * K4, vm.Kvm.Host.Limit!.ChargedBytes);
    }

    [Fact]
    public void ThePagesOfOneRangeAreChargedOnce_HowEverOftenTheyAreTouched()
    {
        var vm = Vm(KvmVmType.SwProtected, Limited);
        var file = vm.GmemFile(vm.Gmem(16 * K4));
        for (int i = 0; i < 3; i++)
        {
            file.Fallocate(FallocateMode.KeepSize, 0, LimitPages * K4);
        }

        Assert.Equal(LimitPages * K4, vm.Kvm.Host.Limit!.ChargedBytes);
    }
}
