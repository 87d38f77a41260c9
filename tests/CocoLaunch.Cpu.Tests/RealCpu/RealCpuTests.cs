using System.Runtime.InteropServices;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CocoLaunch.Cpu.Tests;

/// <summary>The oracle itself: the checks from cpu-emulator.md §6.4 and the harness's fault reporting.</summary>
public sealed class RealCpuTests
{
    private const ulong StatusFlags = 0x8D5;

    private static RealCpu Cpu => RealCpu.Shared!;

    [Fact]
    public void KvmStructs_HaveTheKernelLayout()
    {
        KvmNative.CheckLayouts();
        Assert.Equal(128, (int)Marshal.OffsetOf<KvmRegs>(nameof(KvmRegs.Values)) + (KvmRegs.Rip * 8));
        Assert.Equal(192, (int)Marshal.OffsetOf<KvmSregs>(nameof(KvmSregs.Gdt)));
        Assert.Equal(208, (int)Marshal.OffsetOf<KvmSregs>(nameof(KvmSregs.Idt)));
        Assert.Equal(224, (int)Marshal.OffsetOf<KvmSregs>(nameof(KvmSregs.Cr0)));
        Assert.Equal(240, (int)Marshal.OffsetOf<KvmSregs>(nameof(KvmSregs.Cr3)));
        Assert.Equal(264, (int)Marshal.OffsetOf<KvmSregs>(nameof(KvmSregs.Efer)));
        Assert.Equal(280, (int)Marshal.OffsetOf<KvmSregs>(nameof(KvmSregs.InterruptBitmap)));
        Assert.Equal(14, (int)Marshal.OffsetOf<KvmSegment>(nameof(KvmSegment.Type)));
        Assert.Equal(22, (int)Marshal.OffsetOf<KvmSegment>(nameof(KvmSegment.Unusable)));
        Assert.Equal(24, (int)Marshal.OffsetOf<KvmUserspaceMemoryRegion>(nameof(KvmUserspaceMemoryRegion.UserspaceAddr)));
    }

    [KvmFact]
    public void UserMode_RunsOnTheSilicon() => Assert.True(Cpu.IsNative(RealCpuMode.Long64), "64-bit user-mode code runs in KVM's instruction emulator: the oracle would test KVM, not the CPU");

    [KvmFact]
    public void KernelMode_HaltEndsTheRunWithoutAFault()
    {
        var result = Cpu.Run(Assemble(a => a.nop()), new RealCpuInput(), RealCpuMode.Long64Kernel);

        Assert.Null(result.ExceptionVector);
        Assert.Equal(RealCpu.CodeAddress + 2, result.Rip);
    }

    [KvmFact]
    public void UserMode_HaltInsideTheCodeIsAFault()
    {
        var result = Cpu.Run(Assemble(a =>
        {
            a.hlt();
            a.nop();
        }), new RealCpuInput());

        Assert.Equal(13, result.ExceptionVector);
        Assert.Equal(RealCpu.CodeAddress, result.Rip);
    }

    [KvmFact]
    public void AddRaxRbx_WrapsAndSetsCarryParityAndBit1()
    {
        var input = new RealCpuInput();
        input.Gprs[0] = ulong.MaxValue;
        input.Gprs[3] = 0x8000;

        var result = Cpu.Run(Assemble(a => a.add(rax, rbx)), input);

        Assert.Null(result.ExceptionVector);
        Assert.Equal(0x7FFFUL, result.Gprs[0]);
        Assert.Equal(0x7UL, result.Rflags & (StatusFlags | 2));
        Assert.Equal(RealCpu.CodeAddress + 4, result.Rip);
        Assert.Equal(RealCpu.StackTop, result.Gprs[RealCpuInput.Rsp]);
    }

    [KvmFact]
    public void DivByZero_ReportsVector0AtTheDivWithStateUnchanged()
    {
        var input = new RealCpuInput { Rflags = 0x203 };
        input.Gprs[0] = 1234;
        input.Gprs[1] = 0;
        input.Gprs[2] = 0;

        var result = Cpu.Run(Assemble(a =>
        {
            a.mov(ebx, 7);
            a.div(rcx);
        }), input);

        Assert.Equal(0, result.ExceptionVector);
        Assert.Null(result.ErrorCode);
        Assert.Equal(RealCpu.CodeAddress + 5, result.Rip);
        Assert.Equal(1234UL, result.Gprs[0]);
        Assert.Equal(7UL, result.Gprs[3]);
        Assert.Equal(RealCpu.StackTop, result.Gprs[RealCpuInput.Rsp]);
        Assert.Equal(0x203UL, result.Rflags);
    }

    [KvmFact]
    public void Ud2_ReportsVector6()
    {
        var result = Cpu.Run(Assemble(a => a.ud2()), new RealCpuInput());

        Assert.Equal(6, result.ExceptionVector);
        Assert.Equal(RealCpu.CodeAddress, result.Rip);
    }

    [KvmFact]
    public void NonCanonicalLoad_ReportsGeneralProtectionWithErrorCode0()
    {
        var input = new RealCpuInput();
        input.Gprs[6] = 0x8000_0000_0000_0000;

        var result = Cpu.Run(Assemble(a => a.mov(rax, __qword_ptr[rsi])), input);

        Assert.Equal(13, result.ExceptionVector);
        Assert.Equal(0UL, result.ErrorCode);
    }

    [KvmFact]
    public void UnmappedAddress_ReportsUserWritePageFault()
    {
        var input = new RealCpuInput();
        input.Gprs[6] = 0x4000_0000;

        var result = Cpu.Run(Assemble(a => a.mov(__dword_ptr[rsi], eax)), input);

        Assert.Equal(14, result.ExceptionVector);
        Assert.Equal(0x6UL, result.ErrorCode);
    }

    [KvmFact]
    public void StoreToScratch_IsInTheResultPage()
    {
        var input = new RealCpuInput();
        input.Gprs[0] = 0x1122_3344_5566_7788;
        input.Gprs[6] = RealCpu.ScratchAddress;
        input.Scratch[0x10] = 0xAA;

        var result = Cpu.Run(Assemble(a =>
        {
            a.mov(__qword_ptr[rsi + 8], rax);
            a.add(__byte_ptr[rsi + 0x10], 1);
        }), input);

        Assert.Null(result.ExceptionVector);
        Assert.Equal(0x1122_3344_5566_7788UL, BitConverter.ToUInt64(result.Scratch, 8));
        Assert.Equal(0xAB, result.Scratch[0x10]);
        Assert.Equal(0xAA, input.Scratch[0x10]);
    }

    [KvmFact]
    public void PortIoInKernelMode_OutIsIgnoredAndInReadsZero()
    {
        var input = new RealCpuInput();
        input.Gprs[0] = ulong.MaxValue;

        var result = Cpu.Run(Assemble(a =>
        {
            a.@out(0xE9, al);
            a.@in(eax, 0x80);
        }), input, RealCpuMode.Long64Kernel);

        Assert.Null(result.ExceptionVector);
        Assert.Equal(0UL, result.Gprs[0]);
    }

    [KvmFact]
    public void Protected32_AddAndFault()
    {
        var input = new RealCpuInput();
        input.Gprs[0] = 0xFFFF_FFFF;
        input.Gprs[3] = 1;

        var add = Cpu.Run(Assemble(a => a.add(eax, ebx), 32), input, RealCpuMode.Protected32);
        var ud = Cpu.Run(Assemble(a => a.ud2(), 32), input, RealCpuMode.Protected32);

        Assert.Equal(0UL, add.Gprs[0] & 0xFFFF_FFFF);
        Assert.Equal(0x57UL, add.Rflags & (StatusFlags | 2));
        Assert.Equal(6, ud.ExceptionVector);
        Assert.Equal(RealCpu.CodeAddress, ud.Rip);
        Assert.Equal(RealCpu.StackTop, ud.Gprs[RealCpuInput.Rsp] & 0xFFFF_FFFF);
    }

    [KvmFact]
    public void Real16_AddAxBxGiving0x10000_Leaves0x57AndDivFaults()
    {
        var input = new RealCpuInput();
        input.Gprs[0] = 0xFFFF;
        input.Gprs[3] = 1;
        input.Scratch[0] = 0x5A;

        var add = Cpu.Run(Assemble(a => a.add(ax, bx), 16), input, RealCpuMode.Real16);
        var load = Cpu.Run(Assemble(a => a.mov(cl, __byte_ptr[0]), 16), input, RealCpuMode.Real16);
        var div = Cpu.Run(Assemble(a => a.div(cl), 16), input, RealCpuMode.Real16);

        Assert.Equal(0UL, add.Gprs[0] & 0xFFFF);
        Assert.Equal(0x57UL, add.Rflags & (StatusFlags | 2));
        Assert.Equal(3UL, add.Rip);
        Assert.Equal(0x5AUL, load.Gprs[1] & 0xFF);
        Assert.Equal(0, div.ExceptionVector);
        Assert.Equal(0UL, div.Rip);
        Assert.Equal(RealCpu.Real16StackTop, div.Gprs[RealCpuInput.Rsp] & 0xFFFF);
    }

    private static byte[] Assemble(Action<Assembler> emit, int bitness = 64)
    {
        var a = new Assembler(bitness);
        emit(a);
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), bitness == 16 ? 0 : RealCpu.CodeAddress);
        return stream.ToArray();
    }
}
