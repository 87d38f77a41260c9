using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm;
using CocoLaunch.Memory;
using static CocoLaunch.Vmm.Tests.VmmSetup;

namespace CocoLaunch.Vmm.Tests;

/// <summary>
/// The guest_memfd in-place conversion RFC v2 ("[RFC PATCH v2 04/51] KVM: guest_memfd: Introduce
/// KVM_GMEM_CONVERT_SHARED/PRIVATE ioctls"): <c>kvm_gmem_create</c>'s flags, <c>kvm_gmem_shareability_setup</c>,
/// and the step order of <c>kvm_gmem_convert_range</c>.
/// </summary>
public sealed class GmemConvertAuditTests
{
    private const ulong Base = 0x1_0000_0000;
    private static readonly KvmProfile Rfc = KvmProfile.Upstream with { GmemInPlaceConversion = true };

    private static Errno ErrnoOf(Action action) => Assert.Throws<KvmException>(action).Errno;

    private static VmFd RfcVm() => new Kvm.Kvm(Rfc).CreateVm(KvmVmType.SwProtected);

    // RFC guest_memfd.c kvm_gmem_shareability_setup: "flags & GUEST_MEMFD_FLAG_INIT_PRIVATE ? SHAREABILITY_GUEST :
    // SHAREABILITY_ALL" — bit 1 makes the file start private; SUPPORT_SHARED (bit 0) alone starts shared.
    [Fact]
    public void KvmGmemShareabilitySetup_InitPrivateBit1StartsPrivate()
    {
        var vm = RfcVm();
        var shared = vm.Kvm.Fds.Get<GuestMemfd>(vm.CreateGuestMemfd(new KvmCreateGuestMemfd { Size = 2 * K4, Flags = GuestMemfdFlags.SupportShared }));
        var priv = vm.Kvm.Fds.Get<GuestMemfd>(vm.CreateGuestMemfd(new KvmCreateGuestMemfd { Size = 2 * K4, Flags = GuestMemfdFlags.SupportShared | GuestMemfdFlags.InitPrivate }));
        Assert.Equal((1UL, 2UL), ((ulong)GuestMemfdFlags.SupportShared, (ulong)GuestMemfdFlags.InitPrivate));
        Assert.False(shared.IsPrivatePage(0));
        Assert.True(priv.IsPrivatePage(0) && priv.IsPrivatePage(1));
    }

    // RFC guest_memfd.c kvm_gmem_create: INIT_PRIVATE joins the valid flags only "if (flags & GUEST_MEMFD_FLAG_SUPPORT_SHARED)";
    // alone it is EINVAL, as is any bit above (HUGETLB without its series).
    [Fact]
    public void KvmGmemCreate_InitPrivateWithoutSupportShared_Einval()
    {
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => RfcVm().CreateGuestMemfd(new KvmCreateGuestMemfd { Size = K4, Flags = GuestMemfdFlags.InitPrivate })));
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => RfcVm().CreateGuestMemfd(new KvmCreateGuestMemfd { Size = K4, Flags = GuestMemfdFlags.SupportShared | (GuestMemfdFlags)(1UL << 2) })));
    }

    // RFC guest_memfd.c kvm_gmem_convert_range: kvm_gmem_convert_invalidate_begin zaps the KVM mappings of every changing
    // range before kvm_gmem_convert_should_proceed checks refcounts, so an EAGAIN leaves the guest mapping zapped while
    // the shareability is unchanged.
    [Fact]
    public void KvmGmemConvert_ZapsGuestMappingsBeforeTheRefcountEagain()
    {
        var (vm, host, gmem) = ConversionVm(Base, 4 * K4, Rfc, GuestMemfdFlags.SupportShared);
        var range = new KvmPreFaultMemory { Gpa = Base, Size = 4 * K4 };
        vm.CreateVcpu(0).PreFaultMemory(ref range);
        Assert.NotNull(vm.Mmu.Lookup(Base / K4));
        vm.Kvm.Host.Pin(new Hva(host.Value + (3 * K4)));

        var args = new KvmGmemConvert { Offset = 0, Size = 4 * K4 };
        Assert.Equal(Errno.EAGAIN, ErrnoOf(() => gmem.ConvertPrivate(ref args)));
        Assert.Equal(3 * K4, args.ErrorOffset);
        Assert.All(Enumerable.Range(0, 4), p => Assert.Null(vm.Mmu.Lookup((Base / K4) + (ulong)p)));
        Assert.All(Enumerable.Range(0, 4), p => Assert.False(gmem.IsPrivatePage((ulong)p)));
    }

    // RFC guest_memfd.c kvm_gmem_convert_range: when no sub-range changes (work list empty) nothing is invalidated.
    [Fact]
    public void KvmGmemConvert_NothingToChange_NoZap()
    {
        var (vm, _, gmem) = ConversionVm(Base, 2 * K4, Rfc, GuestMemfdFlags.SupportShared);
        var range = new KvmPreFaultMemory { Gpa = Base, Size = 2 * K4 };
        vm.CreateVcpu(0).PreFaultMemory(ref range);
        var args = new KvmGmemConvert { Offset = 0, Size = 2 * K4 };
        gmem.ConvertShared(ref args);
        Assert.NotNull(vm.Mmu.Lookup(Base / K4));
    }
}
