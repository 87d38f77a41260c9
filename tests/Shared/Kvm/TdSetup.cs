using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm;

namespace CocoLaunch.Tests.Shared;

internal static class TdSetup
{
    /// <summary>
    /// KVM_TDX_INIT_VM (SEPT_VE_DISABLE, GPAW 48), one vCPU with KVM_TDX_INIT_VCPU, and KVM_TDX_FINALIZE_VM: the least a
    /// TD needs before KVM_RUN (<c>tdx_vcpu_pre_run</c>).
    /// </summary>
    public static VcpuFd RunnableTd(this VmFd vm)
    {
        vm.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitVm, Data = new KvmTdxInitVm { Attributes = 0x1000_0000, Xfam = 0x602E7, Cpuid = [KvmTdxInitVm.GuestPhysBits(48)] } });
        var vcpu = vm.CreateVcpu(0);
        vcpu.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitVcpu, Data = 0UL });
        vm.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.FinalizeVm });
        return vcpu;
    }
}
