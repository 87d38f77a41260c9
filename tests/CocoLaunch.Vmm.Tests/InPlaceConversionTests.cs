using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm;
using CocoLaunch.Memory;
using CocoLaunch.Tests.Shared;
using CocoLaunch.Vmm.Exits;
using static CocoLaunch.Vmm.Tests.VmmSetup;

namespace CocoLaunch.Vmm.Tests;

/// <summary>Group I of kvm-memory-model.md §14 (RFC v2 KVM_GMEM_CONVERT_*), with host pins making EAGAIN real.</summary>
public sealed class InPlaceConversionTests
{
    private const ulong Base = 0x1_0000_0000;
    private static readonly KvmProfile InPlace = KvmProfile.Upstream with { GmemInPlaceConversion = true };

    private static (VmFd Vm, Hva Host, GuestMemfd Gmem) Setup() =>
        ConversionVm(Base, 4 * K4, InPlace, GuestMemfdFlags.SupportShared);

    private static Errno ErrnoOf(Action action) => Assert.Throws<KvmException>(action).Errno;

    [Fact]
    public void Case144_ErrorOffsetOnInput_Einval()
    {
        var (_, _, gmem) = Setup();
        var args = new KvmGmemConvert { Offset = 0, Size = K4, ErrorOffset = K4 };
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => gmem.ConvertPrivate(ref args)));
    }

    [Fact]
    public void Case145_SizeZero_IsANoOp()
    {
        var (_, _, gmem) = Setup();
        var args = new KvmGmemConvert { Offset = 0, Size = 0 };
        gmem.ConvertPrivate(ref args);
        Assert.False(gmem.IsPrivatePage(0));
    }

    [Theory]
    [InlineData(0UL, 5 * K4)]
    [InlineData(5 * K4, K4)]
    [InlineData(0x800UL, K4)]
    [InlineData(0UL, 0x800UL)]
    public void Case146_OutOfFileOrUnaligned_Einval(ulong offset, ulong size)
    {
        var (_, _, gmem) = Setup();
        var args = new KvmGmemConvert { Offset = offset, Size = size };
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => gmem.ConvertPrivate(ref args)));
    }

    [Fact]
    public void Case147_PinnedPage_EagainWithOffsetAndNoStateChange()
    {
        var (vm, host, gmem) = Setup();
        vm.Kvm.Host.Pin(new Hva(host.Value + (2 * K4)));
        var args = new KvmGmemConvert { Offset = 0, Size = 4 * K4 };
        Assert.Equal(Errno.EAGAIN, ErrnoOf(() => gmem.ConvertPrivate(ref args)));
        Assert.Equal(2 * K4, args.ErrorOffset);
        Assert.All(Enumerable.Range(0, 4), p => Assert.False(gmem.IsPrivatePage((ulong)p)));

        vm.Kvm.Host.Unpin(new Hva(host.Value + (2 * K4)));
        args.ErrorOffset = 0;
        gmem.ConvertPrivate(ref args);
        Assert.All(Enumerable.Range(0, 4), p => Assert.True(gmem.IsPrivatePage((ulong)p)));
    }

    [Fact]
    public void Case148_ToSharedIgnoresReferences()
    {
        var (vm, host, gmem) = Setup();
        var toPrivate = new KvmGmemConvert { Offset = 0, Size = K4 };
        gmem.ConvertPrivate(ref toPrivate);
        var toShared = new KvmGmemConvert { Offset = 0, Size = 4 * K4 };
        vm.Kvm.Host.Pin(new Hva(host.Value + K4)); // a shared page with a pin
        gmem.ConvertShared(ref toShared);
        Assert.False(gmem.IsPrivatePage(0));
    }

    [Fact]
    public void Case149_AlreadyInTargetState_NoInvalidation()
    {
        var (vm, _, gmem) = Setup();
        var vcpu = vm.CreateVcpu(0);
        vcpu.SetGuest(new ScriptedGuest(new GuestAction.Read(new Gpa(Base), 1)));
        new ExitLoop(vm, ConversionMode.InPlace).Run(vcpu);
        Assert.NotNull(vm.Mmu.Lookup(Base / K4));
        var args = new KvmGmemConvert { Offset = 0, Size = K4 };
        gmem.ConvertShared(ref args);
        Assert.NotNull(vm.Mmu.Lookup(Base / K4)); // already shared: the mapping survives
    }

    [Fact]
    public void ConvertPrivate_ZapsTheSharedMappingOfThatPage()
    {
        var (vm, _, gmem) = Setup();
        var range = new KvmPreFaultMemory { Gpa = Base, Size = 4 * K4 };
        vm.CreateVcpu(0).PreFaultMemory(ref range);
        Assert.Equal(4L, vm.Mmu.Stats.Pages4K);
        var args = new KvmGmemConvert { Offset = K4, Size = K4 };
        gmem.ConvertPrivate(ref args);
        Assert.Null(vm.Mmu.Lookup((Base + K4) / K4));
        Assert.Equal(3L, vm.Mmu.Stats.Pages4K);
    }

    [Fact]
    public void Case150_PrivateRangeSigbusesInHostThenComesBack()
    {
        var (vm, host, gmem) = Setup();
        var args = new KvmGmemConvert { Offset = 0, Size = K4 };
        gmem.ConvertPrivate(ref args);
        Assert.Equal("SIGBUS", Assert.Throws<HostFaultException>(() => vm.Kvm.Host.Read(host, new byte[1])).Signal);
        gmem.ConvertShared(ref args);
        vm.Kvm.Host.Read(host, new byte[1]);
    }

    [Fact]
    public void Case152_ConvertWithoutTheSeries_Enotty()
    {
        var (_, _, gmem) = ConversionVm(Base, 4 * K4);
        var args = new KvmGmemConvert { Offset = 0, Size = K4 };
        Assert.Equal(Errno.ENOTTY, ErrnoOf(() => gmem.ConvertPrivate(ref args)));
    }

    [Fact]
    public void InPlaceRoundTrip_ContentsArePreserved()
    {
        var (vm, host, gmem) = Setup();
        vm.Kvm.Host.Write(host, [0x11]); // host writes the shared page
        var guest = new ScriptedGuest(
            MapGpa(Base, 1, toPrivate: true),
            new GuestAction.Read(new Gpa(Base), 1), // same page, now private: still 0x11
            new GuestAction.Write(new Gpa(Base), [0x22]),
            MapGpa(Base, 1, toPrivate: false),
            new GuestAction.Read(new Gpa(Base), 1)); // shared again: the private write is visible (no copy, no zeroing)
        var vcpu = vm.CreateVcpu(0);
        vcpu.SetGuest(guest);
        Assert.Equal(new ExitOutcome.Stop("guest shut down (triple fault, or the guest program ended)"), new ExitLoop(vm, ConversionMode.InPlace).Run(vcpu));
        var reads = guest.Results.Where(r => r.Data is { Length: 1 }).Select(r => r.Data![0]).ToList();
        Assert.Equal([0x11, 0x22], reads);
        var back = new byte[1];
        vm.Kvm.Host.Read(host, back);
        Assert.Equal(0x22, back[0]);
        Assert.True(vm.Mmu.Lookup(Base / K4) is { Private: false });
        Assert.False(gmem.IsPrivatePage(0));
    }

    [Fact]
    public void InPlaceToPrivateWhilePinned_HandlerAnswersEinval()
    {
        var (vm, host, _) = Setup();
        vm.Kvm.Host.Pin(host);
        var guest = new ScriptedGuest(MapGpa(Base, 1, toPrivate: true));
        var vcpu = vm.CreateVcpu(0);
        vcpu.SetGuest(guest);
        new ExitLoop(vm, ConversionMode.InPlace).Run(vcpu);
        Assert.Equal(KvmHypercallError.EInval, guest.Results[0].Rax);
    }
}
