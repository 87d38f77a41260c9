using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm;

namespace CocoLaunch.Tests.Shared;

internal static class TdSetup
{
    /// <summary>
    /// A TD's VM as QEMU makes one (kernel-irqchip=split): the local APICs in KVM, which <c>tdx_vcpu_create</c>
    /// requires. Other VM types are returned as they are.
    /// </summary>
    public static VmFd WithTdIrqchip(this VmFd vm)
    {
        if (vm.Type == KvmVmType.Tdx)
        {
            vm.EnableCap(new KvmEnableCap { Cap = KvmCap.SplitIrqchip, Arg0 = 24 });
        }

        return vm;
    }

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
