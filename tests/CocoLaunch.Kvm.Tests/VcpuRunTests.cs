using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Cpu;
using CocoLaunch.Tests.Shared;
using static CocoLaunch.Kvm.Tests.KvmSetup;

namespace CocoLaunch.Kvm.Tests;

/// <summary>
/// KVM_RUN with real guest code on the emulated CPU: the hypercall path a booted guest takes, and the run-loop rules
/// of <c>kvm_arch_vcpu_ioctl_run</c> (arch/x86/kvm/x86.c).
/// </summary>
public sealed class VcpuRunTests
{
    private const ulong Code = 0x1000;

    /// <summary>Real-mode code at 0x1000: the bytes, then HLT.</summary>
    private static VcpuFd RealModeGuest(VmFd vm, params byte[] code)
    {
        vm.Slot(0, 0, M2);
        var host = vm.Memslots[0].HostAddress(Code);
        vm.Kvm.Host.Write(host, [.. code, 0xF4]);
        var s = CpuState.LegacyReset();
        s.Cs = new Segment(0, 0, 0xFFFF, s.Cs.Attributes);
        s.Rip = Code;
        var vcpu = vm.CreateVcpu(0);
        vcpu.SetCpu(s, CpuVendor.Amd);
        return vcpu;
    }

    /// <summary>MOV EAX/EBX/ECX/EDX, imm32 (16-bit code, operand-size prefix), then VMCALL.</summary>
    private static byte[] Vmcall(uint nr, uint a0, uint a1, uint a2) =>
    [
        0x66, 0xB8, .. BitConverter.GetBytes(nr), 0x66, 0xBB, .. BitConverter.GetBytes(a0),
        0x66, 0xB9, .. BitConverter.GetBytes(a1), 0x66, 0xBA, .. BitConverter.GetBytes(a2), 0x0F, 0x01, 0xC1,
    ];

    /// <summary>
    /// ____kvm_emulate_hypercall for a booted guest: with KVM_CAP_EXIT_HYPERCALL, VMCALL(KVM_HC_MAP_GPA_RANGE) exits to
    /// userspace, not long mode (flags 0) in real mode; complete_hypercall_exit cuts ret to 32 bits into RAX.
    /// </summary>
    [Fact]
    public void KvmEmulateHypercall_BootedGuestVmcall_ExitsWithCapEnabled_RetCutTo32Bits()
    {
        var vm = Vm(KvmVmType.Default);
        vm.EnableCap(new KvmEnableCap { Cap = KvmCap.ExitHypercall, Arg0 = 1UL << 12 });
        var vcpu = RealModeGuest(vm, Vmcall(12, 0x20_0000, 2, 0x10));
        var exit = Assert.IsType<KvmExit.Hypercall>(vcpu.Run());
        Assert.Equal((12UL, 0x20_0000UL, 2UL, 0x10UL, 0UL), (exit.Nr, exit.Args[0], exit.Args[1], exit.Args[2], exit.Flags));
        exit.Ret = 0xFFFF_FFFF_0000_0005;
        Assert.IsType<KvmExit.Hlt>(vcpu.Run());
        Assert.Equal(5UL, vcpu.Cpu!.State.Gpr[0]);
    }

    /// <summary>Without the capability the same VMCALL gets −KVM_ENOSYS, cut to 32 bits for a 16-bit caller.</summary>
    [Fact]
    public void KvmEmulateHypercall_BootedGuestVmcall_WithoutCap_Enosys()
    {
        var vcpu = RealModeGuest(Vm(KvmVmType.Default), Vmcall(12, 0x20_0000, 2, 0x10));
        Assert.IsType<KvmExit.Hlt>(vcpu.Run());
        Assert.Equal(0xFFFF_FC18UL, vcpu.Cpu!.State.Gpr[0]); // −1000 in 32 bits
    }

    /// <summary>KVM_HC_VAPIC_POLL_IRQ is answered in the kernel with 0, whatever the capability.</summary>
    [Fact]
    public void KvmEmulateHypercall_VapicPollIrq_ReturnsZero()
    {
        var vcpu = RealModeGuest(Vm(KvmVmType.Default), Vmcall(1, 0, 0, 0));
        Assert.IsType<KvmExit.Hlt>(vcpu.Run());
        Assert.Equal(0UL, vcpu.Cpu!.State.Gpr[0]);
    }

    /// <summary>
    /// ____kvm_emulate_hypercall cuts the number and arguments to 32 bits for a caller outside 64-bit mode before
    /// anything looks at them: the GPA and page count userspace sees are the low halves.
    /// </summary>
    [Fact]
    public void KvmEmulateHypercall_32BitCaller_ArgumentsCutBeforeTheChecks()
    {
        var vm = Vm(KvmVmType.Default);
        vm.Slot(0, 0, M2);
        vm.EnableCap(new KvmEnableCap { Cap = KvmCap.ExitHypercall, Arg0 = 1UL << 12 });
        var vcpu = vm.CreateVcpu(0);
        var guest = new ScriptedGuest(new GuestAction.Hypercall(0xFFFF_FFFF_0000_000C, 0xABCD_0000_0000_1000, 0x1_0000_0001, 0x7_0000_0010, LongMode: false));
        vcpu.SetGuest(guest);
        var exit = Assert.IsType<KvmExit.Hypercall>(vcpu.Run());
        Assert.Equal((12UL, 0x1000UL, 1UL, 0x10UL, 0UL), (exit.Nr, exit.Args[0], exit.Args[1], exit.Args[2], exit.Flags));
    }

    /// <summary>
    /// kvm_run.immediate_exit: KVM_RUN completes the answered IN first (complete_userspace_io), then returns −EINTR
    /// without entering the guest; clearing it runs the guest on.
    /// </summary>
    [Fact]
    public void KvmArchVcpuIoctlRun_ImmediateExit_CompletesTheAnsweredInThenReturnsEintr()
    {
        var vcpu = RealModeGuest(Vm(KvmVmType.Default), 0xE4, 0x71); // IN AL, 0x71
        var io = Assert.IsType<KvmExit.Io>(vcpu.Run());
        io.Data[0] = 0x5A;
        vcpu.ImmediateExit = true;
        long before = vcpu.Cpu!.InstructionsRetired;
        Assert.IsType<KvmExit.Intr>(vcpu.Run());
        Assert.Equal(0x5AUL, vcpu.Cpu.State.Gpr[0] & 0xFF);
        Assert.Equal(before, vcpu.Cpu.InstructionsRetired);
        vcpu.ImmediateExit = false;
        Assert.IsType<KvmExit.Hlt>(vcpu.Run());
    }

    /// <summary>tdx_vcpu_pre_run: a TD vCPU runs only when it is initialised and the TD finalized, else EINVAL.</summary>
    [Fact]
    public void TdxVcpuPreRun_BeforeFinalize_Einval()
    {
        var vm = Vm(KvmVmType.Tdx);
        vm.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitVm, Data = new KvmTdxInitVm { Attributes = 0x1000_0000, Xfam = 0x602E7, Cpuid = [KvmTdxInitVm.GuestPhysBits(48)] } });
        vm.Slot(0, 0, M2, vm.Gmem(M2));
        var vcpu = vm.CreateVcpu(0);
        vcpu.SetGuest(new ScriptedGuest(new GuestAction.Halt()));
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vcpu.Run()));
        vcpu.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitVcpu, Data = 0UL });
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vcpu.Run()));
    }

    /// <summary>The backend is chosen once, by VM type, when the vCPU is created (kvm_x86_ops).</summary>
    [Theory]
    [InlineData(KvmVmType.Default, typeof(DefaultVcpuBackend))]
    [InlineData(KvmVmType.SwProtected, typeof(DefaultVcpuBackend))]
    [InlineData(KvmVmType.SevEs, typeof(SevVcpuBackend))]
    [InlineData(KvmVmType.Snp, typeof(SevVcpuBackend))]
    [InlineData(KvmVmType.Tdx, typeof(TdxVcpuBackend))]
    public void KvmCreateVcpu_ChoosesTheVendorBackend(KvmVmType type, Type backend) =>
        Assert.IsType(backend, Vm(type).CreateVcpu(0).Backend);

    /// <summary>
    /// KVM_TDX_GET_CPUID (<c>tdx_vcpu_get_cpuid</c>, kvm-memory-model.md §9): EINVAL before KVM_TDX_INIT_VCPU; too small
    /// an nent is E2BIG with nent set to the count needed; then the TD's configured leaves.
    /// </summary>
    [Fact]
    public void TdxVcpuGetCpuid_NentTooSmall_E2bigWithTheCount_ThenTheConfiguredLeaves()
    {
        var vm = Vm(KvmVmType.Tdx);
        var phys = KvmTdxInitVm.GuestPhysBits(48);
        vm.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitVm, Data = new KvmTdxInitVm { Attributes = 0x1000_0000, Xfam = 0x602E7, Cpuid = [phys] } });
        var vcpu = vm.CreateVcpu(0);
        var output = new KvmCpuid2();
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vcpu.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.GetCpuid, Data = output })));
        vcpu.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitVcpu, Data = 0UL });
        Assert.Equal(Errno.E2BIG, ErrnoOf(() => vcpu.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.GetCpuid, Data = output })));
        Assert.Equal((1u, 0), (output.Nent, output.Entries.Count));
        vcpu.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.GetCpuid, Data = output });
        Assert.Equal([phys], output.Entries);
        Assert.Equal(Errno.EFAULT, ErrnoOf(() => vcpu.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.GetCpuid })));
    }

    /// <summary>kvm_vcpu_ioctl: once the VM is dead (KVM_TDX_TERMINATE_VM, or KVM_BUG_ON) every vCPU ioctl is EIO.</summary>
    [Fact]
    public void KvmVcpuIoctl_DeadVm_Eio()
    {
        var vm = Vm(KvmVmType.Tdx);
        var vcpu = vm.RunnableTd();
        vm.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.TerminateVm });
        var args = Range(0, K4);
        Assert.Equal(Errno.EIO, ErrnoOf(() => vcpu.PreFaultMemory(ref args)));
        Assert.Equal(Errno.EIO, ErrnoOf(() => vcpu.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.GetCpuid, Data = new KvmCpuid2() })));
        Assert.Equal(Errno.EIO, ErrnoOf(() => vcpu.SetCpuid2([])));
        Assert.Equal(Errno.EIO, ErrnoOf(() => vcpu.Run()));
    }

    /// <summary>kvm_vcpu_ioctl_set_cpuid2: more than KVM_MAX_CPUID_ENTRIES (256) is E2BIG; a missing struct is EFAULT, as is a missing TDX command.</summary>
    [Fact]
    public void KvmVcpuIoctlSetCpuid2_TooManyEntriesE2big_MissingArgumentsEfault()
    {
        var vcpu = Vm(KvmVmType.Default).CreateVcpu(0);
        Assert.Equal(Errno.E2BIG, ErrnoOf(() => vcpu.SetCpuid2([.. Enumerable.Range(0, 257).Select(i => new CpuidEntry((uint)i, 0, 0, 0, 0, 0))])));
        vcpu.SetCpuid2([.. Enumerable.Range(0, 256).Select(i => new CpuidEntry((uint)i, 0, 0, 0, 0, 0))]);
        Assert.Equal(Errno.EFAULT, ErrnoOf(() => vcpu.SetCpuid2(null)));
        Assert.Equal(Errno.EFAULT, ErrnoOf(() => Vm(KvmVmType.Tdx).CreateVcpu(0).MemoryEncryptOp(null)));
    }

    /// <summary>
    /// kvm_get_msr_common for a plain guest's RDMSR: the microcode revision reads KVM's reset value (revision 1 in EDX),
    /// and a variable MTRR written with a valid mask reads back (kvm_mtrr_set_msr).
    /// </summary>
    [Fact]
    public void KvmGetMsrCommon_UcodeRevAndVariableMtrr()
    {
        var vcpu = RealModeGuest(Vm(KvmVmType.Default),
            0x66, 0xB9, 0x8B, 0x00, 0x00, 0x00, // mov ecx, 0x8B
            0x0F, 0x32,                         // rdmsr
            0x66, 0x89, 0xD6,                   // mov esi, edx
            0x66, 0xB9, 0x01, 0x02, 0x00, 0x00, // mov ecx, 0x201 (PHYSMASK0)
            0x66, 0xB8, 0x00, 0x08, 0x00, 0x00, // mov eax, 0x800 (valid)
            0x66, 0x31, 0xD2,                   // xor edx, edx
            0x0F, 0x30,                         // wrmsr
            0x66, 0x31, 0xC0,                   // xor eax, eax
            0x0F, 0x32);                        // rdmsr
        Assert.IsType<KvmExit.Hlt>(vcpu.Run());
        var gpr = vcpu.Cpu!.State.Gpr;
        Assert.Equal((1UL, 0x800UL), (gpr[6], gpr[0]));
    }
}
