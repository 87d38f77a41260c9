using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using static CocoLaunch.Kvm.Tests.KvmSetup;

namespace CocoLaunch.Kvm.Tests;

/// <summary>
/// KVM_ENABLE_CAP on the VM fd, audited against virt/kvm/kvm_main.c (<c>kvm_vm_ioctl</c>,
/// <c>kvm_vm_ioctl_enable_cap_generic</c>) and arch/x86/kvm/x86.c (<c>kvm_vm_ioctl_enable_cap</c>), plus the
/// userfault RFC v2's KVM_CAP_X86_MEMORY_FAULT_EXIT (absent-mapping-rfc profile).
/// </summary>
public sealed class EnableCapAuditTests
{
    private static readonly KvmProfile Rfc = KvmProfile.Upstream with { AbsentMappingFault = true };

    // kvm_main.c kvm_vm_ioctl KVM_ENABLE_CAP: copy_from_user → EFAULT.
    [Fact]
    public void KvmVmIoctlEnableCap_NoStruct_Efault() => Assert.Equal(Errno.EFAULT, ErrnoOf(() => Vm().EnableCap(null)));

    // x86.c kvm_vm_ioctl_enable_cap: "if (cap->flags) return -EINVAL;" before the switch, even for a valid cap and mask.
    [Fact]
    public void KvmVmIoctlEnableCap_Flags_Einval() =>
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm().EnableCap(new KvmEnableCap { Cap = KvmCap.ExitHypercall, Flags = 1, Arg0 = KvmLimits.ExitHypercallValidMask })));

    // x86.c kvm_vm_ioctl_enable_cap: KVM_CAP_MEMORY_FAULT_INFO (and the RFC's KVM_CAP_MEMORY_FAULT_NOWAIT) are
    // check-only, so they fall to the default branch → EINVAL; so does an unknown number.
    [Theory]
    [InlineData(KvmCap.MemoryFaultInfo)]
    [InlineData(KvmCap.MemoryFaultNowait)]
    [InlineData(KvmCap.PreFaultMemory)]
    [InlineData((KvmCap)9999)]
    public void KvmVmIoctlEnableCap_CheckOnlyOrUnknownCap_Einval(KvmCap cap)
    {
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm().EnableCap(new KvmEnableCap { Cap = cap, Arg0 = 1 })));
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm(profile: Rfc).EnableCap(new KvmEnableCap { Cap = cap, Arg0 = 1 })));
    }

    // x86.c kvm_vm_ioctl_enable_cap KVM_CAP_EXIT_HYPERCALL: args[0] outside KVM_EXIT_HYPERCALL_VALID_MASK → EINVAL, and
    // the mask can be cleared again (0 is stored).
    [Fact]
    public void KvmVmIoctlEnableCap_ExitHypercallMask()
    {
        var vm = Vm();
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.EnableCap(new KvmEnableCap { Cap = KvmCap.ExitHypercall, Arg0 = 1UL << 11 })));
        vm.EnableCap(new KvmEnableCap { Cap = KvmCap.ExitHypercall, Arg0 = 1UL << 12 });
        Assert.Equal(0x1000UL, vm.HypercallExitMask);
        vm.EnableCap(new KvmEnableCap { Cap = KvmCap.ExitHypercall, Arg0 = 0 });
        Assert.Equal(0UL, vm.HypercallExitMask);
    }

    // RFC v2 kvm_vm_ioctl_enable_cap_generic KVM_CAP_X86_MEMORY_FAULT_EXIT: reasons outside UNKNOWN | ABSENT_MAPPING → EINVAL;
    // valid reasons are stored, and the generic case does not look at flags.
    [Fact]
    public void KvmVmIoctlEnableCapGeneric_MemoryFaultExitReasons()
    {
        var vm = Vm(profile: Rfc);
        Assert.Equal(1UL, vm.CheckExtension(KvmCap.X86MemoryFaultExit));
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.EnableCap(new KvmEnableCap { Cap = KvmCap.X86MemoryFaultExit, Arg0 = 1UL << 2 })));
        vm.EnableCap(new KvmEnableCap { Cap = KvmCap.X86MemoryFaultExit, Flags = 5, Arg0 = 0x3 });
        Assert.Equal(KvmMemoryExitFlags.ReasonUnknown | KvmMemoryExitFlags.AbsentMapping, vm.MemoryFaultExitReasons);
    }

    // RFC v2 kvm_vm_ioctl_enable_cap_generic: "if (!kvm_vm_ioctl_check_extension(...)) return -EINVAL" — without the
    // series (upstream profile) cap 227 is unknown → EINVAL.
    [Fact]
    public void KvmVmIoctlEnableCapGeneric_MemoryFaultExitWithoutSeries_Einval()
    {
        var vm = Vm();
        Assert.Equal(0UL, vm.CheckExtension(KvmCap.X86MemoryFaultExit));
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.EnableCap(new KvmEnableCap { Cap = KvmCap.X86MemoryFaultExit, Arg0 = 1 })));
    }
}
