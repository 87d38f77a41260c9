using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using static CocoLaunch.Kvm.Tests.KvmSetup;

namespace CocoLaunch.Kvm.Tests;

/// <summary>
/// The KVM_TDX_* commands of the VM fd, audited against arch/x86/kvm/vmx/tdx.c (<c>tdx_vm_ioctl</c>,
/// <c>tdx_get_capabilities</c>, <c>tdx_td_init</c>, <c>setup_tdparams</c>, <c>setup_tdparams_eptp_controls</c>,
/// <c>setup_tdparams_cpuids</c>, <c>tdx_td_finalize</c>, <c>tdx_terminate_vm</c>).
/// </summary>
public sealed class TdxVmAuditTests
{
    private static KvmTdxInitVm InitArgs(uint gpaw = 48) => new() { Attributes = 0x1000_0000, Xfam = 0x602E7, Cpuid = [KvmTdxInitVm.GuestPhysBits(gpaw)] };

    private static KvmTdxCmd Cmd(KvmTdxCmdId id, object? data = null, uint flags = 0) => new() { Id = id, Data = data, Flags = flags };

    // tdx.c tdx_vm_ioctl: copy_from_user of the kvm_tdx_cmd → EFAULT.
    [Fact]
    public void TdxVmIoctl_NoCmd_Efault() => Assert.Equal(Errno.EFAULT, ErrnoOf(() => Vm(KvmVmType.Tdx).MemoryEncryptOp((KvmTdxCmd?)null)));

    // tdx.c tdx_vm_ioctl: only CAPABILITIES, INIT_VM, FINALIZE_VM (and TERMINATE_VM) are VM commands; the vCPU commands
    // INIT_VCPU, INIT_MEM_REGION and GET_CPUID hit the default branch → EINVAL (without copy-back).
    [Theory]
    [InlineData(KvmTdxCmdId.InitVcpu)]
    [InlineData(KvmTdxCmdId.InitMemRegion)]
    [InlineData(KvmTdxCmdId.GetCpuid)]
    public void TdxVmIoctl_VcpuCommandOnVmFd_Einval(KvmTdxCmdId id) =>
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm(KvmVmType.Tdx).MemoryEncryptOp(Cmd(id, new KvmTdxInitMemRegion()))));

    // tdx.c tdx_get_capabilities: flags (EINVAL) are checked before get_user(nent) (EFAULT).
    [Fact]
    public void TdxGetCapabilities_FlagsBeforeCopy()
    {
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm(KvmVmType.Tdx).MemoryEncryptOp(Cmd(KvmTdxCmdId.Capabilities, flags: 1))));
        Assert.Equal(Errno.EFAULT, ErrnoOf(() => Vm(KvmVmType.Tdx).MemoryEncryptOp(Cmd(KvmTdxCmdId.Capabilities))));
    }

    // tdx.c tdx_get_capabilities: nent too small → E2BIG via "goto out", so nothing (not even nent) is copied back.
    [Fact]
    public void TdxGetCapabilities_E2big_NothingWrittenBack()
    {
        var caps = new KvmTdxCapabilities { CpuidNent = 2 };
        Assert.Equal(Errno.E2BIG, ErrnoOf(() => Vm(KvmVmType.Tdx).MemoryEncryptOp(Cmd(KvmTdxCmdId.Capabilities, caps))));
        Assert.Equal((2u, 0UL, 0UL), (caps.CpuidNent, caps.SupportedAttrs, caps.UserTdvmcallInfo1R11));
    }

    // tdx.c init_kvm_tdx_caps (6.17+): user_tdvmcallinfo_1_r11 = TDVMCALLINFO_SETUP_EVENT_NOTIFY_INTERRUPT (bit 1), the
    // kernel_* masks 0; the tdx-6.16 profile has no tdvmcallinfo fields (zero).
    [Fact]
    public void TdxGetCapabilities_TdvmcallInfo()
    {
        var caps = new KvmTdxCapabilities { CpuidNent = 16 };
        Vm(KvmVmType.Tdx).MemoryEncryptOp(Cmd(KvmTdxCmdId.Capabilities, caps));
        Assert.Equal((0UL, 2UL, 0UL, 0UL), (caps.KernelTdvmcallInfo1R11, caps.UserTdvmcallInfo1R11, caps.KernelTdvmcallInfo1R12, caps.UserTdvmcallInfo1R12));
        var old = new KvmTdxCapabilities { CpuidNent = 16 };
        Vm(KvmVmType.Tdx, KvmProfile.Upstream with { Tdx616 = true }).MemoryEncryptOp(Cmd(KvmTdxCmdId.Capabilities, old));
        Assert.Equal(0UL, old.UserTdvmcallInfo1R11);
    }

    // tdx.c tdx_td_init: flags (EINVAL) are checked before copy_from_user (EFAULT).
    [Fact]
    public void TdxTdInit_FlagsBeforeCopy()
    {
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm(KvmVmType.Tdx).MemoryEncryptOp(Cmd(KvmTdxCmdId.InitVm, flags: 1))));
        Assert.Equal(Errno.EFAULT, ErrnoOf(() => Vm(KvmVmType.Tdx).MemoryEncryptOp(Cmd(KvmTdxCmdId.InitVm))));
    }

    // tdx.c tdx_td_init: memchr_inv(init_vm->reserved, 0, ...) → EINVAL for any of the 12 reserved words.
    [Fact]
    public void TdxTdInit_EveryReservedWord_Einval()
    {
        for (int i = 0; i < 12; i++)
        {
            var args = InitArgs();
            args.Reserved[i] = 1UL << i;
            Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm(KvmVmType.Tdx).MemoryEncryptOp(Cmd(KvmTdxCmdId.InitVm, args))));
        }
    }

    // tdx.c tdx_td_init: nent > KVM_MAX_CPUID_ENTRIES (E2BIG) is checked before reserved (EINVAL).
    [Fact]
    public void TdxTdInit_E2bigBeforeReserved()
    {
        var args = InitArgs();
        args.Cpuid = [.. Enumerable.Range(0, 257).Select(i => new KvmCpuidEntry2((uint)i, 0, 0, 0, 0, 0, 0))];
        args.Reserved[0] = 1;
        Assert.Equal(Errno.E2BIG, ErrnoOf(() => Vm(KvmVmType.Tdx).MemoryEncryptOp(Cmd(KvmTdxCmdId.InitVm, args))));
    }

    // tdx.c tdx_td_init → setup_tdparams: reserved/padding (EINVAL) precede the created_vcpus check (EBUSY).
    [Fact]
    public void TdxTdInit_ReservedBeforeEbusy()
    {
        var vm = Vm(KvmVmType.Tdx);
        vm.CreateVcpu(0);
        var args = InitArgs();
        args.CpuidPadding = 1;
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.MemoryEncryptOp(Cmd(KvmTdxCmdId.InitVm, args))));
        Assert.Equal(Errno.EBUSY, ErrnoOf(() => vm.MemoryEncryptOp(Cmd(KvmTdxCmdId.InitVm, InitArgs()))));
    }

    // tdx.c setup_tdparams_eptp_controls: "guest_pa == 52 && !cpu_has_vmx_ept_5levels()" → EINVAL.
    [Fact]
    public void SetupTdparamsEptpControls_Gpaw52WithoutFiveLevelEpt_Einval() =>
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm(KvmVmType.Tdx, KvmProfile.Upstream with { Ept5Level = false }).MemoryEncryptOp(Cmd(KvmTdxCmdId.InitVm, InitArgs(52)))));

    // tdx.c setup_tdparams_eptp_controls + tdx_td_init: GPAW 52 with 5-level EPT gives the shared bit 51 (TDX_SHARED_BIT_PWL_5).
    [Fact]
    public void SetupTdparamsEptpControls_Gpaw52WithFiveLevelEpt_SharedBit51()
    {
        var vm = Vm(KvmVmType.Tdx);
        vm.MemoryEncryptOp(Cmd(KvmTdxCmdId.InitVm, InitArgs(52)));
        Assert.Equal(51, vm.SharedGpaBit);
    }

    // tdx.c setup_tdparams_cpuids: an entry that is no configurable leaf is never copied, so copy_cnt != nent → EINVAL.
    [Fact]
    public void SetupTdparamsCpuids_NonConfigurableLeaf_Einval()
    {
        var args = InitArgs();
        args.Cpuid.Add(new KvmCpuidEntry2(0x2, 0, 0, 0, 0, 0, 0));
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm(KvmVmType.Tdx).MemoryEncryptOp(Cmd(KvmTdxCmdId.InitVm, args))));
    }

    // tdx.c setup_tdparams_cpuids: a configurable leaf (0x7, significant index 0) is accepted next to 0x80000008.
    [Fact]
    public void SetupTdparamsCpuids_ConfigurableLeaf_Accepted()
    {
        var vm = Vm(KvmVmType.Tdx);
        var args = InitArgs();
        args.Cpuid.Add(new KvmCpuidEntry2(0x7, 0, 1, 0, 0x1, 0, 0));
        vm.MemoryEncryptOp(Cmd(KvmTdxCmdId.InitVm, args));
        Assert.Equal(TdState.Initialized, vm.TdState);
    }

    // tdx.c tdx_td_finalize: "!is_hkid_assigned(kvm_tdx) || state == TD_STATE_RUNNABLE" → EINVAL before INIT_VM.
    [Fact]
    public void TdxTdFinalize_BeforeInitVm_Einval() =>
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm(KvmVmType.Tdx).MemoryEncryptOp(Cmd(KvmTdxCmdId.FinalizeVm))));

    // tdx.c tdx_terminate_vm (6.17+): kvm_vm_dead, after which kvm_vm_ioctl answers every VM ioctl with EIO.
    [Fact]
    public void TdxTerminateVm_LaterVmIoctls_Eio()
    {
        var vm = Vm(KvmVmType.Tdx);
        vm.MemoryEncryptOp(Cmd(KvmTdxCmdId.InitVm, InitArgs()));
        vm.MemoryEncryptOp(Cmd(KvmTdxCmdId.TerminateVm));
        Assert.True(vm.Dead);
        Assert.Equal(Errno.EIO, ErrnoOf(() => vm.MemoryEncryptOp(Cmd(KvmTdxCmdId.FinalizeVm))));
        Assert.Equal(Errno.EIO, ErrnoOf(() => vm.CreateVcpu(0)));
        Assert.Equal(Errno.EIO, ErrnoOf(() => vm.SetAttributes(0, K4, isPrivate: true)));
        Assert.Equal(Errno.EIO, ErrnoOf(() => vm.CheckExtension(KvmCap.GuestMemfd)));
    }

    // tdx.c tdx_terminate_vm: flags and data are not looked at; terminating an uninitialised TD also succeeds.
    [Fact]
    public void TdxTerminateVm_FlagsAndDataIgnored()
    {
        var vm = Vm(KvmVmType.Tdx);
        vm.MemoryEncryptOp(Cmd(KvmTdxCmdId.TerminateVm, 0x1234UL, flags: 7));
        Assert.True(vm.TdxTerminated);
    }

    // tdx.c (6.16, tdx-6.16 profile): no KVM_TDX_TERMINATE_VM, so id 6 is the default branch → EINVAL.
    [Fact]
    public void TdxVmIoctl_TerminateOn616_Einval() =>
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm(KvmVmType.Tdx, KvmProfile.Upstream with { Tdx616 = true }).MemoryEncryptOp(Cmd(KvmTdxCmdId.TerminateVm))));

    /// <summary>tdx_vcpu_create: a TD's vCPU has an x2APIC only, which needs the local APIC in KVM.</summary>
    [Fact]
    public void TdxVcpuCreate_WithoutAnInKernelApic_Einval()
    {
        var vm = new Kvm().CreateVm(KvmVmType.Tdx);
        vm.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitVm, Data = new KvmTdxInitVm { Attributes = 0x1000_0000, Xfam = 0x602E7, Cpuid = [KvmTdxInitVm.GuestPhysBits(48)] } });
        Assert.Equal(Errno.EINVAL, Assert.Throws<KvmException>(() => vm.CreateVcpu(0)).Errno);
        vm.EnableCap(new KvmEnableCap { Cap = KvmCap.SplitIrqchip, Arg0 = 24 });
        var vcpu = vm.CreateVcpu(0);
        vcpu.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitVcpu, Data = 0UL });
        Assert.Equal(LocalApic.DefaultBase | LocalApic.BaseEnable | LocalApic.BaseExtd | LocalApic.BaseBsp, vcpu.Apic!.BaseMsr); // tdx_vcpu_init: x2APIC
    }
}
