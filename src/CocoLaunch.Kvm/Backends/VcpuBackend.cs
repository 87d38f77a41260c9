using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Cpu;

namespace CocoLaunch.Kvm;

/// <summary>
/// The vendor half of a vCPU, as <c>kvm_x86_ops</c> is for Linux (<c>vmx/vmx.c</c>, <c>vmx/tdx.c</c>,
/// <c>svm/sev.c</c>): what KVM does with the processor's exits, chosen once when the vCPU is created. The
/// hardware and firmware behaviour underneath (the TDX module, the SEV-ES/SNP CPU extension) lives in the
/// firmware models; a backend is only KVM's side.
/// </summary>
public abstract class VcpuBackend
{
    private protected const ulong Page = PageSize.Size4K;

    private protected VcpuBackend(VcpuFd vcpu)
    {
        Vcpu = vcpu;
        Msrs = new KvmMsrs(vcpu.Id);
    }

    public VcpuFd Vcpu { get; }

    private protected VmFd Vm => Vcpu.Vm;

    /// <summary>The MSRs KVM emulates itself for this vCPU.</summary>
    internal KvmMsrs Msrs { get; }

    /// <summary>The backend for the vCPU's VM type: the one place the vendor is chosen.</summary>
    internal static VcpuBackend For(VcpuFd vcpu) => vcpu.Vm.Type switch
    {
        KvmVmType.Tdx => new TdxVcpuBackend(vcpu),
        KvmVmType.SevEs or KvmVmType.Snp => new SevVcpuBackend(vcpu),
        _ => new DefaultVcpuBackend(vcpu),
    };

    /// <summary>The GPA bit that carries an access's private/shared view (see <see cref="IPlatform.ConfidentialGpaBit"/>).</summary>
    internal virtual ulong ConfidentialGpaBit => 0;

    internal virtual bool ConfidentialBitMeansPrivate => false;

    /// <summary>Whether an access the processor calls private or shared faults as private in KVM.</summary>
    internal virtual bool AccessIsPrivate(ulong gfn, bool cpuSaysPrivate) => cpuSaysPrivate;

    /// <summary>Vendor checks before a private access is mapped; throws <see cref="PlatformStop"/> or <see cref="PlatformFault"/>.</summary>
    internal virtual void BeforePrivateAccess(ulong gfn)
    {
    }

    /// <summary>Vendor checks once a private page is mapped, before the processor uses it.</summary>
    internal virtual void AfterPrivateMap(ulong gfn)
    {
    }

    /// <summary>A new processor was attached (KVM_SET_REGS and friends).</summary>
    internal virtual void Attached()
    {
    }

    /// <summary>A kick arrived (a signal to the vCPU thread).</summary>
    internal virtual void Kicked()
    {
    }

    /// <summary><c>vcpu_pre_run</c>: after the answered exit is completed, before the guest is entered; throws to fail KVM_RUN.</summary>
    internal virtual void PreRun()
    {
    }

    /// <summary>
    /// Before KVM_RUN takes the vCPU mutex: an exit for userspace when the vCPU may not run (an SNP AP not yet
    /// created), else null.
    /// </summary>
    internal virtual KvmExit? BeforeEntry() => null;

    /// <summary>True when the run loop must return to <see cref="BeforeEntry"/> before entering the guest again.</summary>
    internal virtual bool MustLeaveBeforeEntry => false;

    /// <summary>Whether HLT leaves the guest as something other than a halt KVM handles (a TD's HLT is a #VE).</summary>
    internal virtual bool VirtualizesHlt => false;

    /// <summary>
    /// Whether an access to an MSR the CPU models must leave the CPU: with an in-kernel APIC, IA32_APIC_BASE is the
    /// APIC's register, not a plain value the CPU keeps.
    /// </summary>
    internal virtual bool InterceptsMsr(uint index, bool write) => index == LocalApic.BaseMsrIndex && Vcpu.Apic is not null;

    /// <summary>
    /// Completes the exit userspace answered (<c>complete_userspace_io</c>). Returns the next exit at once when the
    /// operation goes on in another exit (the next MapGPA chunk, the next run of a page-state change).
    /// </summary>
    internal abstract KvmExit? CompleteUserspaceExit(IGuestCpu c);

    /// <summary>One processor exit: an exit for userspace, or null when KVM handled it and the guest runs on.</summary>
    internal abstract KvmExit? HandleExit(IGuestCpu c, CpuExit exit);

    /// <summary>KVM_MEMORY_ENCRYPT_OP on the vCPU fd; none unless the vendor has vCPU commands.</summary>
    internal virtual void MemoryEncryptOp(KvmTdxCmd cmd, CancellationToken signal) =>
        throw new KvmException(Errno.ENOTTY, $"KVM_MEMORY_ENCRYPT_OP on a vCPU of a {Vm.Type.Name()} VM");

    /// <summary>
    /// CPUID as KVM answers it from KVM_SET_CPUID2 (<c>kvm_emulate_cpuid</c>), with OSXSAVE following CR4.OSXSAVE
    /// (<c>kvm_update_cpuid_runtime</c>).
    /// </summary>
    private protected (ulong Eax, ulong Ebx, ulong Ecx, ulong Edx) KvmCpuid(uint function, uint index, CpuState state)
    {
        var e = Vcpu.FindCpuid(function, index);
        return (e.Eax, e.Ebx, state.CpuidEcx(function, e.Ecx), e.Edx);
    }

    /// <summary>XSETBV as <c>__kvm_set_xcr</c> checks it: within what the guest's CPUID leaf 0xD offers, else #GP(0).</summary>
    private protected void KvmSetXcr(IGuestCpu c, CpuExit.InstructionExit x)
    {
        var leaf = Vcpu.FindCpuid(0xD, 0);
        if (leaf.Function != 0xD || !X86Cpu.TrySetXcr0(c.State, ((ulong)leaf.Edx << 32) | leaf.Eax))
        {
            c.InjectException(Vector.GeneralProtection, 0, x);
        }
    }

    /// <summary>
    /// <c>____kvm_emulate_hypercall</c>: the number and arguments cut to 32 bits for a caller outside 64-bit mode,
    /// −KVM_EPERM above CPL 0, KVM_HC_MAP_GPA_RANGE to userspace when KVM_CAP_EXIT_HYPERCALL enabled it (after
    /// its alignment and range checks), −KVM_ENOSYS for anything else. Null with <paramref name="ret"/> set when KVM
    /// answers itself; the exit when userspace must answer.
    /// </summary>
    private protected KvmExit.Hypercall? EmulateHypercall(ulong nr, ulong a0, ulong a1, ulong a2, bool op64, int cpl, out ulong ret)
    {
        ulong Cut(ulong v) => op64 ? v : (uint)v;
        (nr, a0, a1, a2) = (Cut(nr), Cut(a0), Cut(a1), Cut(a2));
        ret = 0;
        if (cpl != 0)
        {
            ret = Cut(KvmHypercallError.EPerm);
            return null;
        }

        switch (nr)
        {
            case KvmLimits.HcVapicPollIrq:
                return null; // a no-op that returns 0
            case KvmLimits.HcMapGpaRange when (Vm.HypercallExitMask & (1UL << (int)KvmLimits.HcMapGpaRange)) != 0:
                ulong gfn = a0 / Page;
                if (a0 % Page != 0 || a1 == 0 || gfn + a1 <= gfn)
                {
                    ret = Cut(KvmHypercallError.EInval);
                    return null;
                }

                return new KvmExit.Hypercall(KvmLimits.HcMapGpaRange, [a0, a1, a2, 0, 0, 0], op64 ? 1UL : 0);
            default:
                ret = Cut(KvmHypercallError.ENoSys);
                return null;
        }
    }

    /// <summary>
    /// A private fault the vendor hardware reported for an instruction that then runs again (TDX ACCEPT's EPT
    /// violation, SNP's RMP #NPF): KVM faults the page in, which runs the vendor's prepare hook (PAGE.AUG, RMP
    /// assignment). A memory fault goes to userspace. If the vendor still does not see the page as
    /// <paramref name="present"/> says, the instruction would fault forever: KVM_BUG_ON, naming <paramref name="what"/>.
    /// </summary>
    private protected KvmExit? FaultInPrivate(Gpa gpa, Func<bool> present, string what)
    {
        try
        {
            VcpuPlatform.Map(Vm, gpa.Value / Page, isPrivate: true);
        }
        catch (PlatformStop stop)
        {
            return Vcpu.Stopped(new CpuExit.Stopped(stop.Reason));
        }

        return present() ? null : Vcpu.Stopped(new CpuExit.Stopped(new VmBug($"mapping {gpa} left it outside {what}")));
    }

    /// <summary>An MSR KVM emulates (kvm_get_msr): the in-kernel local APIC's registers, then KVM's others; false is #GP.</summary>
    internal bool KvmMsrRead(uint index, out ulong value)
    {
        if (Vcpu.Apic is { } apic && apic.Claims(index))
        {
            return apic.TryReadMsr(index, out value);
        }

        return Msrs.TryRead(index, out value);
    }

    /// <summary>kvm_set_msr, as <see cref="KvmMsrRead"/>.</summary>
    internal bool KvmMsrWrite(uint index, ulong value) =>
        Vcpu.Apic is { } apic && apic.Claims(index) ? apic.TryWriteMsr(index, value) : Msrs.TryWrite(index, value);

    /// <summary>The 8 bytes of a port-IN or MMIO-read answer, zero-extended.</summary>
    private protected static ulong AnswerValue(byte[] data)
    {
        Span<byte> buffer = stackalloc byte[8];
        data.AsSpan(0, Math.Min(8, data.Length)).CopyTo(buffer);
        return BitConverter.ToUInt64(buffer);
    }

    /// <summary>The exit for a port or MMIO access the processor could not complete itself.</summary>
    private protected static KvmExit? DeviceExit(CpuExit exit) => exit switch
    {
        CpuExit.PortOut o => new KvmExit.Io(true, o.Size, o.Port, 1, BitConverter.GetBytes(o.Value)[..o.Size]),
        CpuExit.PortIn i => new KvmExit.Io(false, i.Size, i.Port, 1, new byte[i.Size]),
        CpuExit.MmioRead r => new KvmExit.Mmio(new Gpa(r.Gpa), r.Size, false, new byte[r.Size]),
        CpuExit.MmioWrite w => new KvmExit.Mmio(new Gpa(w.Gpa), w.Size, true, BitConverter.GetBytes(w.Value)[..w.Size]),
        _ => null,
    };
}
