using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Firmware.Snp;
using static CocoLaunch.Kvm.Tests.KvmSetup;

namespace CocoLaunch.Kvm.Tests;

/// <summary>
/// The SEV/SNP command dispatch and the check order of each SNP launch command, audited against
/// arch/x86/kvm/svm/sev.c (<c>sev_mem_enc_ioctl</c>, <c>snp_launch_start</c>, <c>snp_launch_update</c>,
/// <c>snp_launch_finish</c>, <c>sev_launch_start</c>, <c>sev_launch_update_vmsa</c>, <c>sev_pin_memory</c>).
/// </summary>
public sealed class SevDispatchAuditTests
{
    private const ulong G = 0x80_0000;

    private static KvmSevCmd Cmd(KvmSevCmdId id, object? data = null) => new() { Id = id, Data = data };

    private static KvmSevCmd Start(ulong policy = 0x30000) => Cmd(KvmSevCmdId.SnpLaunchStart, new KvmSevSnpLaunchStart { Policy = policy });

    private static VmFd StartedSnp()
    {
        var vm = Vm(KvmVmType.Snp);
        vm.Slot(0, G, 4 * K4, vm.Gmem(4 * K4));
        vm.SetAttributes(G, 4 * K4, isPrivate: true);
        vm.MemoryEncryptOp(Start());
        return vm;
    }

    // sev.c sev_mem_enc_ioctl: "if (!argp) return 0;" before anything else.
    [Theory]
    [InlineData(KvmVmType.Sev)]
    [InlineData(KvmVmType.SevEs)]
    [InlineData(KvmVmType.Snp)]
    public void SevMemEncIoctl_NullArgument_ReturnsZero(KvmVmType type) => Vm(type).MemoryEncryptOp((KvmSevCmd?)null);

    // sev.c sev_mem_enc_ioctl: an SNP VM refuses every id below KVM_SEV_SNP_LAUNCH_START with EPERM, before the switch
    // (so even an id no switch case knows, such as 50, is EPERM rather than EINVAL).
    [Theory]
    [InlineData(2u)]
    [InlineData(3u)]
    [InlineData(4u)]
    [InlineData(6u)]
    [InlineData(50u)]
    public void SevMemEncIoctl_SnpVmLegacyId_Eperm(uint id) =>
        Assert.Equal(Errno.EPERM, ErrnoOf(() => Vm(KvmVmType.Snp).MemoryEncryptOp(Cmd((KvmSevCmdId)id, new KvmSevLaunchStart()))));

    // sev.c sev_mem_enc_ioctl: an id no case handles is EINVAL (default branch), on SNP and on SEV VMs.
    [Theory]
    [InlineData(KvmVmType.Snp, 103u)]
    [InlineData(KvmVmType.Sev, 99u)]
    public void SevMemEncIoctl_UnknownId_Einval(KvmVmType type, uint id) =>
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm(type).MemoryEncryptOp(Cmd((KvmSevCmdId)id))));

    // sev.c snp_launch_start: "if (!sev_snp_guest(kvm)) return -ENOTTY;" — SEV and SEV-ES VMs reach it through the switch.
    [Theory]
    [InlineData(KvmVmType.Sev)]
    [InlineData(KvmVmType.SevEs)]
    public void SnpLaunchStart_OnSevOrSevEsVm_Enotty(KvmVmType type) =>
        Assert.Equal(Errno.ENOTTY, ErrnoOf(() => Vm(type).MemoryEncryptOp(Start())));

    // sev.c snp_launch_update: "if (!sev_snp_guest(kvm) || !sev->snp_context) return -EINVAL;" — EINVAL, not ENOTTY.
    [Fact]
    public void SnpLaunchUpdate_OnSevVm_Einval() =>
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm(KvmVmType.Sev).MemoryEncryptOp(Cmd(KvmSevCmdId.SnpLaunchUpdate, new KvmSevSnpLaunchUpdate()))));

    // sev.c snp_launch_finish: "if (!sev_snp_guest(kvm)) return -ENOTTY;".
    [Fact]
    public void SnpLaunchFinish_OnSevEsVm_Enotty() =>
        Assert.Equal(Errno.ENOTTY, ErrnoOf(() => Vm(KvmVmType.SevEs).MemoryEncryptOp(Cmd(KvmSevCmdId.SnpLaunchFinish, new KvmSevSnpLaunchFinish()))));

    // sev.c snp_launch_start: copy_from_user (EFAULT) comes before the "context exists" check (EINVAL).
    [Fact]
    public void SnpLaunchStart_NoDataOnStartedVm_EfaultBeforeContextCheck() =>
        Assert.Equal(Errno.EFAULT, ErrnoOf(() => StartedSnp().MemoryEncryptOp(Cmd(KvmSevCmdId.SnpLaunchStart))));

    // sev.c snp_launch_start: policy & ~SNP_POLICY_MASK_VALID → EINVAL; the mask has no MIGRATE_MA (bit 18) and nothing above bit 20.
    [Theory]
    [InlineData(0x70000UL)]
    [InlineData(0x230000UL)]
    [InlineData(0x8000_0000_0003_0000UL)]
    public void SnpLaunchStart_PolicyBitsOutsideKvmMask_Einval(ulong policy) =>
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm(KvmVmType.Snp).MemoryEncryptOp(Start(policy))));

    // sev.c SNP_POLICY_MASK_VALID includes DEBUG (bit 19) and the ABI version bytes: accepted.
    [Fact]
    public void SnpLaunchStart_DebugAndAbiVersion_Accepted()
    {
        var vm = Vm(KvmVmType.Snp);
        vm.MemoryEncryptOp(Start(0xB_0133));
        Assert.Equal(0xB_0133UL, vm.Snp!.Policy);
    }

    // sev.c snp_launch_start (6.13+, "KVM: SVM: Don't require the SMT policy bit"): KVM no longer checks SMT; the firmware
    // fails SNP_LAUNCH_START with POLICY_FAILURE (7) when host SMT is on, which KVM reports as EIO with cmd.error.
    [Fact]
    public void SnpLaunchStart_SmtClearWithHostSmt_EioPolicyFailure()
    {
        var cmd = Start(0x20000);
        Assert.Equal(Errno.EIO, ErrnoOf(() => Vm(KvmVmType.Snp).MemoryEncryptOp(cmd)));
        Assert.Equal((uint)SnpStatus.PolicyFailure, cmd.Error);
    }

    // Same function: without host SMT the firmware accepts a policy with SMT clear.
    [Fact]
    public void SnpLaunchStart_SmtClearWithoutHostSmt_Accepted()
    {
        var vm = Vm(KvmVmType.Snp, KvmProfile.Upstream with { HostSmtActive = false });
        vm.MemoryEncryptOp(Start(0x20000));
        Assert.NotNull(vm.Snp);
    }

    // sev.c snp_launch_start before 6.13 (snp-smt-strict): "!(params.policy & SNP_POLICY_MASK_SMT)" → EINVAL in KVM.
    [Fact]
    public void SnpLaunchStart_SmtClearStrictProfile_Einval() =>
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm(KvmVmType.Snp, KvmProfile.Upstream with { SnpSmtStrict = true }).MemoryEncryptOp(Start(0x20000))));

    // sev.c snp_launch_update: the context check precedes copy_from_user, so no context + no data is EINVAL, not EFAULT.
    [Fact]
    public void SnpLaunchUpdate_NoContextNoData_EinvalBeforeCopy() =>
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm(KvmVmType.Snp).MemoryEncryptOp(Cmd(KvmSevCmdId.SnpLaunchUpdate))));

    // sev.c snp_launch_update: with a context, a missing struct is the copy's EFAULT.
    [Fact]
    public void SnpLaunchUpdate_NoData_Efault() =>
        Assert.Equal(Errno.EFAULT, ErrnoOf(() => StartedSnp().MemoryEncryptOp(Cmd(KvmSevCmdId.SnpLaunchUpdate))));

    // sev.c snp_launch_update: type VMSA (2) is not a userspace page type → EINVAL, checked after the copy.
    [Fact]
    public void SnpLaunchUpdate_VmsaType_Einval() =>
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => StartedSnp().MemoryEncryptOp(Cmd(KvmSevCmdId.SnpLaunchUpdate, new KvmSevSnpLaunchUpdate { GfnStart = G / K4, Len = K4, Type = 2 }))));

    // sev.c snp_launch_finish: "no context" (EINVAL) precedes copy_from_user (EFAULT).
    [Fact]
    public void SnpLaunchFinish_NoContextNoData_EinvalBeforeCopy() =>
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm(KvmVmType.Snp).MemoryEncryptOp(Cmd(KvmSevCmdId.SnpLaunchFinish))));

    // sev.c snp_launch_finish: with a context, a missing struct is EFAULT (it is not read as zeros).
    [Fact]
    public void SnpLaunchFinish_NoData_Efault() =>
        Assert.Equal(Errno.EFAULT, ErrnoOf(() => StartedSnp().MemoryEncryptOp(Cmd(KvmSevCmdId.SnpLaunchFinish))));

    // sev.c snp_launch_finish: snp_launch_update_vmsa runs before psp_copy_user_blob(id_block_uaddr); a bad ID block
    // address is EFAULT after every VMSA has been measured.
    [Fact]
    public void SnpLaunchFinish_BadIdBlockAddress_EfaultAfterVmsasMeasured()
    {
        var vm = StartedSnp();
        vm.CreateVcpu(0).SevEsSaveArea = Vmsa.Build(Vmsa.BspResetEip, VmsaProfile.Qemu, 0x800F12, 1);
        int before = vm.Snp!.Updates;
        var finish = new KvmSevSnpLaunchFinish { IdBlockEn = 1, IdBlockUaddr = 0xDEAD_0000, IdAuthUaddr = 0xDEAD_1000 };
        Assert.Equal(Errno.EFAULT, ErrnoOf(() => vm.MemoryEncryptOp(Cmd(KvmSevCmdId.SnpLaunchFinish, finish))));
        Assert.Equal(before + 1, vm.Snp.Updates);
        Assert.False(vm.PreFaultAllowed);
    }

    // sev.c sev_launch_start: copy_from_user of kvm_sev_launch_start → EFAULT when there is no struct.
    [Fact]
    public void SevLaunchStart_NoData_Efault() =>
        Assert.Equal(Errno.EFAULT, ErrnoOf(() => Vm(KvmVmType.Sev).MemoryEncryptOp(Cmd(KvmSevCmdId.LaunchStart))));

    // sev.c sev_launch_update_vmsa: "if (!sev_es_guest(kvm)) return -ENOTTY;" on a plain SEV VM.
    [Fact]
    public void SevLaunchUpdateVmsa_OnPlainSevVm_Enotty()
    {
        var vm = Vm(KvmVmType.Sev);
        vm.MemoryEncryptOp(Cmd(KvmSevCmdId.LaunchStart, new KvmSevLaunchStart { Policy = 0 }));
        Assert.Equal(Errno.ENOTTY, ErrnoOf(() => vm.MemoryEncryptOp(Cmd(KvmSevCmdId.LaunchUpdateVmsa))));
    }

    // sev.c sev_pin_memory: "if (ulen == 0 || uaddr + ulen < uaddr) return ERR_PTR(-EINVAL);".
    [Fact]
    public void SevPinMemory_ZeroLength_Einval()
    {
        var vm = Vm(KvmVmType.Sev);
        vm.MemoryEncryptOp(Cmd(KvmSevCmdId.LaunchStart, new KvmSevLaunchStart()));
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.MemoryEncryptOp(Cmd(KvmSevCmdId.LaunchUpdateData, new KvmSevLaunchUpdateData { Uaddr = 0x1000, Len = 0 }))));
    }

    // sev.c sev_pin_memory: pin_user_pages_fast pinning fewer pages than asked → ENOMEM (never a host fault escaping).
    [Fact]
    public void SevPinMemory_UnmappedSource_Enomem()
    {
        var vm = Vm(KvmVmType.Sev);
        vm.MemoryEncryptOp(Cmd(KvmSevCmdId.LaunchStart, new KvmSevLaunchStart()));
        Assert.Equal(Errno.ENOMEM, ErrnoOf(() => vm.MemoryEncryptOp(Cmd(KvmSevCmdId.LaunchUpdateData, new KvmSevLaunchUpdateData { Uaddr = 0x7000_0000_0000, Len = 16 }))));
    }
}
