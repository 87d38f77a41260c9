using CocoLaunch.Abi;
using CocoLaunch.Kvm;
using Iced.Intel;
using static CocoLaunch.Vmm.Tests.TdHarness;
using static Iced.Intel.AssemblerRegisters;

namespace CocoLaunch.Vmm.Tests;

/// <summary>
/// A TD's exits on the KVM model, from assembled guest code (guest-abi.md §2, §3, §8.2): TDG.VP.VMCALL's checks and
/// the userspace exits it makes, and the #VE the TDX module raises for what a TD may not do itself.
/// </summary>
public sealed class TdRuntimeTests
{
    private const ulong InvalidOperand = 0x8000_0000_0000_0000, AlignError = 0x8000_0000_0000_0002;

    [Fact]
    public void InstructionIo_OutAndIn_AreKvmExitIo_InDataReturnsInR11()
    {
        var h = Create(a =>
        {
            a.mov(r12, 1);
            a.mov(r13, 1);
            a.mov(r14, 0xE9);
            a.mov(r15, 'A');
            Tdvmcall(a, 30);
            a.mov(r12, 2);
            a.xor(r13d, r13d);
            a.mov(r14, 0x3FD);
            Tdvmcall(a, 30);
        });
        var exit = Assert.IsType<KvmExit.Io>(h.Vcpu.Run());
        Assert.Equal((true, 1, (ushort)0xE9), (exit.IsOut, exit.Size, exit.Port));
        Assert.Equal(new byte[] { (byte)'A' }, exit.Data);
        var read = Assert.IsType<KvmExit.Io>(h.Vcpu.Run());
        Assert.Equal((false, 2, (ushort)0x3FD), (read.IsOut, read.Size, read.Port));
        read.Data[0] = 0x60;
        read.Data[1] = 0x01;
        Assert.IsType<KvmExit.Hlt>(h.Vcpu.Run());
        Assert.Equal((0UL, 0x160UL), (h.Gpr[9], h.Gpr[5])); // R10 = SUCCESS, R11 = the data (saved by the harness)
    }

    [Theory]
    [InlineData(0x1BUL, 0UL, 0xFEE0_0D00UL)] // IA32_APIC_BASE from KVM's APIC: enabled in x2APIC mode (tdx_vcpu_init), BSP
    [InlineData(0xFEUL, 0UL, 0x508UL)] // MTRRcap: fixed ranges, WC, 8 variable ranges
    [InlineData(0x1A0UL, 0UL, 0x1800UL)] // IA32_MISC_ENABLE: PEBS and BTS unavailable
    [InlineData(0x10UL, InvalidOperand, 0UL)] // IA32_TSC: not an MSR KVM emulates for the TD
    [InlineData(0x1_0000_001BUL, InvalidOperand, 0UL)] // an index beyond 32 bits
    public void InstructionRdmsr_KvmsEmulatedMsrs_OthersInvalidOperand(ulong msr, ulong status, ulong value)
    {
        var h = Create(a =>
        {
            a.mov(r12, msr);
            Tdvmcall(a, 31);
        });
        Assert.IsType<KvmExit.Hlt>(h.Vcpu.Run());
        Assert.Equal((status, value), (h.Gpr[9], status == 0 ? h.Gpr[5] : 0));
    }

    [Theory]
    [InlineData(0x806UL, 0UL)] // MTRRdefType: enabled, default WB
    [InlineData(0x802UL, InvalidOperand)] // type 2 is reserved
    [InlineData(0x1000UL, InvalidOperand)] // a reserved bit
    public void InstructionWrmsr_MtrrDefType_CheckedAndKept(ulong value, ulong status)
    {
        var h = Create(a =>
        {
            a.mov(r12, 0x2FF);
            a.mov(r13, value);
            Tdvmcall(a, 32);
            a.mov(r15, r10); // keep WRMSR's status
            a.mov(r12, 0x2FF);
            Tdvmcall(a, 31);
        });
        Assert.IsType<KvmExit.Hlt>(h.Vcpu.Run());
        Assert.Equal((status, status == 0 ? value : 0UL), (h.Gpr[15], h.Gpr[5]));
    }

    [Theory]
    [InlineData(3UL, 1UL, 0xE9UL)] // size 3
    [InlineData(1UL, 2UL, 0xE9UL)] // direction 2
    [InlineData(1UL, 1UL, 0x10000UL)] // port beyond 16 bits
    public void InstructionIo_BadOperand_InvalidOperandWithoutAnExit(ulong size, ulong direction, ulong port)
    {
        var h = Create(a =>
        {
            a.mov(r12, size);
            a.mov(r13, direction);
            a.mov(r14, port);
            Tdvmcall(a, 30);
        });
        Assert.IsType<KvmExit.Hlt>(h.Vcpu.Run());
        Assert.Equal(InvalidOperand, h.Gpr[9]);
    }

    [Fact]
    public void Vmcall_ExposingRcx_IsRefusedByTheModule()
    {
        var h = Create(a =>
        {
            a.xor(eax, eax);
            a.mov(ecx, 0xFC02); // bit 1: RCX
            a.mov(r11, 30);
            Tdcall(a);
        });
        Assert.IsType<KvmExit.Hlt>(h.Vcpu.Run());
        Assert.Equal(Firmware.Tdx.TdCall.OperandInvalid | 1, h.Gpr[3]); // RAX, saved in RBX by the harness
    }

    /// <summary>
    /// tdx_emulate_vmcall: a TDG.VP.VMCALL with R10 != 0 is a KVM hypercall (R10 the number, R11–R13 the arguments)
    /// that goes through the same ____kvm_emulate_hypercall as a VMCALL: MAP_GPA_RANGE exits to userspace, whose
    /// ret comes back in R10; an unknown number gets −KVM_ENOSYS there.
    /// </summary>
    [Theory]
    [InlineData(12UL, true, 0xFFFF_FFFF_FFFF_FFEAUL)]
    [InlineData(5UL, false, 0xFFFF_FFFF_FFFF_FC18UL)]
    public void TdxEmulateVmcall_KvmHypercallThroughTdvmcall(ulong nr, bool exits, ulong ret)
    {
        var h = Create(a =>
        {
            a.xor(eax, eax);
            a.mov(ecx, 0xFC00);
            a.mov(r10, nr);
            a.mov(r11, 0x20_0000);
            a.mov(r12, 1);
            a.mov(r13, 0x10);
            Tdcall(a);
        });
        if (exits)
        {
            var exit = Assert.IsType<KvmExit.Hypercall>(h.Vcpu.Run());
            Assert.Equal((12UL, 0x20_0000UL, 1UL, 0x10UL, 1UL), (exit.Nr, exit.Args[0], exit.Args[1], exit.Args[2], exit.Flags));
            exit.Ret = ret;
        }

        Assert.IsType<KvmExit.Hlt>(h.Vcpu.Run());
        Assert.Equal(ret, h.Gpr[9]); // R10, saved by the harness
    }

    /// <summary>
    /// A CPUID leaf KVM_TDX_INIT_VM configured is what the module answers, over KVM_SET_CPUID2's (kvm-memory-model.md
    /// §9): 0x80000008 gives the launch's GPAW 48 / MAXPHYADDR 52 (0x300034), not the CPUID model's 0x3028.
    /// </summary>
    [Fact]
    public void Cpuid_LeafConfiguredAtInitVm_WinsOverSetCpuid2()
    {
        var h = Create(a =>
        {
            a.mov(eax, 0x8000_0008);
            a.xor(ecx, ecx);
            a.cpuid();
        });
        Assert.IsType<KvmExit.Hlt>(h.Vcpu.Run());
        Assert.Equal(0x30_0034UL, h.Gpr[3]); // RAX after CPUID, saved in RBX by the harness
    }

    [Theory]
    [InlineData(0x20_0800UL, 0x1000UL, AlignError)] // misaligned GPA
    [InlineData(0x20_0000UL, 0x800UL, AlignError)] // misaligned size
    [InlineData(0x20_0000UL, 0UL, InvalidOperand)] // empty
    [InlineData(0x7FFF_FFFF_F000UL, 0x2000UL, InvalidOperand)] // the last byte has the shared bit, the first not
    public void MapGpa_KvmsChecks_SetR10AndR11(ulong gpa, ulong size, ulong status)
    {
        var h = Create(a =>
        {
            a.mov(r12, gpa);
            a.mov(r13, size);
            Tdvmcall(a, 0x10001);
        });
        Assert.IsType<KvmExit.Hlt>(h.Vcpu.Run());
        Assert.Equal((status, gpa), (h.Gpr[9], h.Gpr[5]));
    }

    [Fact]
    public void MapGpa_5MiB_IsThreeChunkExits_AFailedChunkIsReportedInR11()
    {
        const ulong Shared = 1UL << 47;
        var h = Create(a =>
        {
            a.mov(r12, 0x10_0000UL | Shared);
            a.mov(r13, 0x50_0000UL);
            Tdvmcall(a, 0x10001);
        });
        var first = Assert.IsType<KvmExit.Hypercall>(h.Vcpu.Run());
        Assert.Equal(new ulong[] { 0x10_0000, 512, 0, 0, 0, 0 }, first.Args); // to shared: attribute 0
        Assert.True(first.LongMode);
        var second = Assert.IsType<KvmExit.Hypercall>(h.Vcpu.Run());
        Assert.Equal(0x30_0000UL, second.Args[0]); // chunks step 2 MiB from the start, not 2M-aligned
        second.Ret = 1; // userspace could not convert it
        Assert.IsType<KvmExit.Hlt>(h.Vcpu.Run());
        Assert.Equal((InvalidOperand, 0x30_0000UL | Shared), (h.Gpr[9], h.Gpr[5]));
    }

    [Fact]
    public void OutInstruction_IsAVe_WhoseInfoVeinfoGetReturns()
    {
        var h = Create(a =>
        {
            var handler = a.CreateLabel();
            var start = a.CreateLabel();
            a.jmp(start);
            a.Label(ref handler);
            a.mov(eax, 3); // TDG.VP.VEINFO.GET
            Tdcall(a);
            a.mov(rsi, rcx);
            a.mov(rdi, rdx);
            a.mov(r8, r10);
            TdvmcallHlt(a);
            a.Label(ref start);
            InstallIdt(a, handler, 20);
            a.mov(al, 0x41);
            a.@out(0xE9, al);
        });
        Assert.IsType<KvmExit.Hlt>(h.Vcpu.Run());
        // Reason 30 (I/O), qualification: size 1 - 1 = 0, OUT, port 0xE9 in [31:16]; instruction length 2.
        Assert.Equal((0UL, 30UL, 0xE9_0000UL, 2UL), (h.Gpr[3], h.Gpr[6], h.Gpr[7], h.Gpr[8]));
    }

    [Fact]
    public void Cpuid_0x21IsTheTdxSignature_HypervisorLeavesAreAVe()
    {
        var h = Create(a =>
        {
            var handler = a.CreateLabel();
            var start = a.CreateLabel();
            a.jmp(start);
            a.Label(ref handler);
            a.mov(eax, 3);
            Tdcall(a);
            a.mov(rsi, rcx);
            TdvmcallHlt(a);
            a.Label(ref start);
            InstallIdt(a, handler, 20);
            a.mov(eax, 0x21);
            a.xor(ecx, ecx);
            a.cpuid();
            a.mov(r12, rbx);
            a.mov(r13, rdx);
            a.mov(r14, rcx);
            a.mov(eax, 0x4000_0000);
            a.cpuid();
        });
        Assert.IsType<KvmExit.Hlt>(h.Vcpu.Run());
        Assert.Equal((0x6574_6E49UL, 0x5844_546CUL, 0x2020_2020UL), (h.Gpr[12], h.Gpr[13], h.Gpr[14])); // "IntelTDX    "
        Assert.Equal(10UL, h.Gpr[6]); // #VE reason CPUID
    }

    [Fact]
    public void SecondVeBeforeVeinfoGet_IsADoubleFault()
    {
        var h = Create(a =>
        {
            var ve = a.CreateLabel();
            var df = a.CreateLabel();
            var start = a.CreateLabel();
            a.jmp(start);
            a.Label(ref ve);
            a.@out(0xE9, al); // a second #VE while the first one's info is unread
            a.Label(ref df);
            a.mov(r12, 0xDF);
            TdvmcallHlt(a);
            a.Label(ref start);
            InstallIdt(a, ve, 20);
            InstallGate(a, df, 8);
            a.@out(0xE9, al);
        });
        Assert.IsType<KvmExit.Hlt>(h.Vcpu.Run());
        Assert.Equal(0xDFUL, h.Gpr[12]);
    }

    [Fact]
    public void GetQuote_PrivateBufferIsInvalid_SharedOneExitsToUserspace()
    {
        var h = Create(a =>
        {
            a.mov(r12, 0x20_0000UL);
            a.mov(r13, 0x1000UL);
            Tdvmcall(a, 0x10002);
            a.mov(r15, r10);
            a.mov(r12, 0x20_0000UL | (1UL << 47));
            a.mov(r13, 0x1000UL);
            Tdvmcall(a, 0x10002);
        });
        var quote = Assert.IsType<KvmExit.TdxGetQuote>(h.Vcpu.Run());
        Assert.Equal((0x20_0000UL, 0x1000UL, TdVmcallStatus.SubfuncUnsupported), (quote.Gpa, quote.Size, quote.Ret));
        quote.Ret = 0;
        Assert.IsType<KvmExit.Hlt>(h.Vcpu.Run());
        Assert.Equal((InvalidOperand, 0UL), (h.Gpr[15], h.Gpr[9]));
    }

    [Fact]
    public void ReportFatalError_IsSystemEventTdxFatal_WithTheMessage()
    {
        var h = Create(a =>
        {
            a.xor(eax, eax);
            a.mov(ecx, 0xFC04 | (1 << 14) | (1 << 15)); // R14, R15 carry the message
            a.xor(r10d, r10d);
            a.mov(r11, 0x10003);
            a.xor(r12d, r12d);
            a.mov(r14, BitConverter.ToUInt64("panic: n"u8));
            a.mov(r15, BitConverter.ToUInt64("o memory"u8));
            Tdcall(a);
        });
        var e = Assert.IsType<KvmExit.SystemEvent>(h.Vcpu.Run());
        Assert.Equal(KvmExit.SystemEvent.TdxFatal, e.Type);
        var outcome = Assert.IsType<Exits.ExitOutcome.Stop>(Exits.ExitHandlers.SystemEvent(e));
        Assert.Equal("the TD reported a fatal error 0x0: panic: no memory", outcome.Reason);
    }

    [Fact]
    public void Accept_OfASharedAttributePage_IsAMemoryFaultForUserspace_ThenSucceeds()
    {
        var h = Create(a =>
        {
            a.mov(eax, 6);
            a.mov(rcx, 0x30_0000UL);
            Tdcall(a);
        });
        h.Vm.SetMemoryAttributes(new Abi.Kvm.KvmMemoryAttributesArgs { Address = 0x30_0000, Size = 0x1000, Attributes = 0 });
        var fault = Assert.IsType<KvmExit.MemoryFault>(h.Vcpu.Run());
        Assert.Equal((new Gpa(0x30_0000), true), (fault.Info.Gpa, fault.Info.IsPrivate));
        h.Vm.SetMemoryAttributes(new Abi.Kvm.KvmMemoryAttributesArgs { Address = 0x30_0000, Size = 0x1000, Attributes = Abi.Kvm.KvmMemoryAttributes.Private });
        Assert.IsType<KvmExit.Hlt>(h.Vcpu.Run());
        Assert.Equal(0UL, h.Gpr[3]); // the TDCALL ran again and accepted the page
        Assert.Equal(Firmware.Tdx.SeptState.Mapped, h.Vm.Td!.StateOf(new Gpa(0x30_0000)));
    }
}
