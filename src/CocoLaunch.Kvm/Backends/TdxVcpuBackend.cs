using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Cpu;
using CocoLaunch.Firmware.Tdx;

namespace CocoLaunch.Kvm;

/// <summary>
/// A TD's vCPU (<c>arch/x86/kvm/vmx/tdx.c</c>): the TDX module (<see cref="TdGuestCpu"/>) stands between the CPU
/// and KVM and answers most exits itself; KVM sees TD exits only: TDG.VP.VMCALL, EPT violations and shutdown.
/// Private accesses pass the Secure EPT: a pending page stops the TD, as the module does under SEPT_VE_DISABLE.
/// </summary>
public sealed partial class TdxVcpuBackend : VcpuBackend
{
    private TdxVcpu? moduleVcpu;
    private TdGuestCpu? module;

    internal TdxVcpuBackend(VcpuFd vcpu)
        : base(vcpu)
    {
    }

    /// <summary>The module's per-vCPU state (the #VE info).</summary>
    public TdxVcpu ModuleVcpu => moduleVcpu ??= new TdxVcpu(Vcpu.Id);

    /// <summary>The TD, once KVM_TDX_INIT_VM made it.</summary>
    private TdxTd Td => Vm.Td ?? throw new KvmException(Errno.EINVAL, $"vCPU {Vcpu.Id}: the TD has not been initialised (KVM_TDX_INIT_VM)");

    private ulong SharedBit => 1UL << Td.SharedBit;

    internal override ulong ConfidentialGpaBit => Vm.SharedGpaBit is int bit ? 1UL << bit : 0;

    /// <summary>
    /// The Secure-EPT rule for a private access once the TD runs: a page with no leaf faults in as KVM's EPT-violation
    /// path does (PAGE.AUG adds it pending); a page still pending after that was never accepted, and the VM is dead.
    /// </summary>
    internal override void BeforePrivateAccess(ulong gfn)
    {
        if (Vm.Td is not { IsFinalized: true } td)
        {
            return;
        }

        var gpa = new Gpa(gfn * Page);
        if (td.StateOf(gpa) == SeptState.Free)
        {
            VcpuPlatform.Map(Vm, gfn, isPrivate: true);
        }

        if (td.StateOf(gpa) != SeptState.Mapped)
        {
            throw new PlatformStop(new VmBug($"the TD accessed private GPA {gpa} before accepting it"));
        }
    }

    /// <summary><c>tdx_vcpu_pre_run</c>: a TD vCPU runs only once KVM_TDX_INIT_VCPU and KVM_TDX_FINALIZE_VM are done.</summary>
    internal override void PreRun()
    {
        if (InitialRcx is null || Vm.TdState != TdState.Runnable)
        {
            throw new KvmException(Errno.EINVAL, $"KVM_RUN on TD vCPU {Vcpu.Id}: the vCPU is {(InitialRcx is null ? "not" : "")} initialised and the TD is {Vm.TdState}");
        }
    }

    internal override KvmExit? HandleExit(IGuestCpu c, CpuExit exit)
    {
        switch (Module.Handle(c, exit))
        {
            case null:
                return null;
            case TdExit.VmCall:
                return TdVmcall(c);
            case TdExit.EptViolation v:
                return EptViolation(v.Gpa);
            case TdExit.TripleFault:
                return new KvmExit.Shutdown();
            default:
                throw new KvmException(Errno.EIO, $"vCPU {Vcpu.Id}: unknown TD exit");
        }
    }

    private TdGuestCpu Module => module ??= new TdGuestCpu(Td, Vm.TdCall, ModuleVcpu, new TdMemory(Vm, Td), TdCpuid, new NativeMsrs(this), VcpuFd.DefaultTscKhz);

    internal override bool VirtualizesHlt => true;

    /// <summary>A CPU-held MSR the module intercepts in this direction leaves the CPU (a TSC or EFER write, CSTAR, APIC_BASE).</summary>
    internal override bool InterceptsMsr(uint index, bool write) => TdMsrVirtualization.Classify(index, write, Module.FeatureEnabled) != TdMsrAction.Native;

    /// <summary>
    /// What a TD's MSR access reaches without a TD exit: the virtual-APIC page, which is KVM's local APIC here, and
    /// the platform's MSRs as KVM models them.
    /// </summary>
    private sealed class NativeMsrs(TdxVcpuBackend backend) : ITdNativeMsrs
    {
        public bool TryRead(uint index, out ulong value) => backend.KvmMsrRead(index, out value);

        public bool TryWrite(uint index, ulong value) => backend.KvmMsrWrite(index, value);
    }

    /// <summary>
    /// The TD's CPUID configuration as the module virtualises it: a leaf KVM_TDX_INIT_VM configured wins over
    /// KVM_SET_CPUID2 (kvm-memory-model.md §9); the rest come from KVM_SET_CPUID2.
    /// </summary>
    private (uint Eax, uint Ebx, uint Ecx, uint Edx) TdCpuid(uint function, uint index)
    {
        foreach (var configured in Vm.TdCpuid)
        {
            if (configured.Function == function && configured.Index == index)
            {
                return (configured.Eax, configured.Ebx, configured.Ecx, configured.Edx);
            }
        }

        var e = Vcpu.FindCpuid(function, index);
        return (e.Eax, e.Ebx, e.Ecx, e.Edx);
    }

    /// <summary>
    /// ACCEPT of a GPA with no Secure-EPT leaf: KVM's EPT-violation path faults the page in, which adds it pending
    /// (PAGE.AUG), and the TDCALL runs again. If the attributes say shared, the fault is a memory-fault exit:
    /// userspace converts, and the TDCALL runs again after that.
    /// </summary>
    private KvmExit? EptViolation(Gpa gpa) => FaultInPrivate(gpa, () => Td.StateOf(gpa) != SeptState.Free, "the Secure EPT");
}
