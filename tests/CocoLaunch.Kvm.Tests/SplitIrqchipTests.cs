using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Cpu;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CocoLaunch.Kvm.Tests;

/// <summary>
/// KVM_CAP_SPLIT_IRQCHIP and KVM_SIGNAL_MSI with the errno order of <c>kvm_vm_ioctl_enable_cap</c> and
/// <c>kvm_send_userspace_msi</c>, and the run loop's event injection: a guest that arms its APIC timer and halts
/// is woken by the timer's interrupt.
/// </summary>
public sealed class SplitIrqchipTests
{
    private static KvmEnableCap Split(ulong pins) => new() { Cap = KvmCap.SplitIrqchip, Arg0 = pins };

    private static KvmMsi Msi(uint destination, uint vector, bool level = false) =>
        new() { AddressLo = 0xFEE0_0000 | (destination << 12), Data = vector | (level ? 1u << 15 : 0) };

    [Fact]
    public void EnableCap_Errnos()
    {
        var vm = KvmSetup.Vm(KvmVmType.Default);
        Assert.Equal(Errno.EINVAL, KvmSetup.ErrnoOf(() => vm.EnableCap(Split(4097))));
        vm.EnableCap(Split(24));
        Assert.Equal(Errno.EEXIST, KvmSetup.ErrnoOf(() => vm.EnableCap(Split(24))));

        var late = KvmSetup.Vm(KvmVmType.Default);
        late.CreateVcpu(0);
        Assert.Equal(Errno.EEXIST, KvmSetup.ErrnoOf(() => late.EnableCap(Split(24))));
        Assert.Null(late.VcpuById(0)!.Apic);
    }

    [Fact]
    public void SignalMsi_NeedsAnIrqchip_RoutesByApicId()
    {
        var plain = KvmSetup.Vm(KvmVmType.Default);
        Assert.Equal(Errno.EINVAL, KvmSetup.ErrnoOf(() => plain.SignalMsi(Msi(0, 0x40))));

        var vm = KvmSetup.Vm(KvmVmType.Default);
        vm.EnableCap(Split(24));
        var vcpu = vm.CreateVcpu(0);
        Assert.Equal(Errno.EINVAL, KvmSetup.ErrnoOf(() => vm.SignalMsi(new KvmMsi { AddressLo = 0xFEE0_0000, Data = 0x40, Flags = 2 })));
        Assert.Equal(0, vm.SignalMsi(Msi(0, 0x40))); // matched, but the APIC is software-disabled
        vcpu.Apic!.TryWrite(LocalApic.Svr, 0x1FF);
        Assert.Equal(-1, vm.SignalMsi(Msi(5, 0x40))); // no APIC with ID 5
        Assert.Equal(1, vm.SignalMsi(Msi(0, 0x40)));
        Assert.Equal(0x40, vcpu.Apic.PendingVector());
    }

    /// <summary>
    /// A guest in 64-bit mode enables x2APIC, arms the TSC-deadline timer 10,000 ticks ahead, does STI; HLT, and
    /// its handler writes 'T' to port 0xE9 and EOIs: KVM_RUN must jump the halted vCPU's TSC to the deadline,
    /// inject vector 0x30 and return the port write.
    /// </summary>
    [Fact]
    public void TscDeadlineTimer_WakesAHaltedGuest()
    {
        var vm = KvmSetup.Vm(KvmVmType.Default);
        vm.EnableCap(Split(24));
        var hva = vm.Kvm.Host.Map(4 << 20);
        vm.SetUserMemoryRegion2(new KvmUserspaceMemoryRegion2 { Slot = 0, GuestPhysAddr = 0, MemorySize = 4 << 20, UserspaceAddr = hva.Value, GuestMemfd = -1 });
        void Put(ulong gpa, byte[] bytes) => vm.Kvm.Host.Write(new Memory.Hva(hva.Value + gpa), bytes);

        const ulong code = 0x10_0000, handler = 0x11_0000, idt = 0x12_0000, gdt = 0x12_1000;
        Put(0x1000, BitConverter.GetBytes(0x2003UL));
        Put(0x2000, BitConverter.GetBytes(0x3003UL));
        Put(0x3000, BitConverter.GetBytes(0x83UL)); // 0-2 MiB identity, 2 MiB page
        Put(0x3008, BitConverter.GetBytes(0x20_0083UL));
        Put(gdt + 8, BitConverter.GetBytes(0x00AF_9B00_0000_FFFFUL));
        Put(gdt + 16, BitConverter.GetBytes(0x00CF_9300_0000_FFFFUL)); // IRETQ reloads SS
        var gate = new byte[16];
        BitConverter.GetBytes(unchecked((ushort)handler)).CopyTo(gate, 0);
        BitConverter.GetBytes((ushort)8).CopyTo(gate, 2);
        gate[5] = 0x8E;
        BitConverter.GetBytes((ushort)(handler >> 16)).CopyTo(gate, 6);
        Put(idt + (0x30 * 16), gate);

        Put(code, Assemble(code, a =>
        {
            a.mov(ecx, 0x1B);
            a.rdmsr();
            a.or(eax, 0xC00); // EN | EXTD: x2APIC
            a.wrmsr();
            a.mov(ecx, 0x80F);
            a.mov(eax, 0x1FF); // SVR: enabled
            a.xor(edx, edx);
            a.wrmsr();
            a.mov(ecx, 0x832);
            a.mov(eax, (2 << 17) | 0x30); // LVT timer: TSC-deadline, vector 0x30
            a.wrmsr();
            a.rdtsc();
            a.add(eax, 10_000);
            a.mov(ecx, 0x6E0);
            a.wrmsr();
            a.sti();
            a.hlt();
            a.hlt();
        }));
        Put(handler, Assemble(handler, a =>
        {
            a.mov(al, (byte)'T');
            a.@out(0xE9, al);
            a.mov(ecx, 0x80B);
            a.xor(eax, eax);
            a.xor(edx, edx);
            a.wrmsr(); // EOI
            a.iretq();
        }));

        var vcpu = vm.CreateVcpu(0);
        var s = new CpuState { Cr0 = 0x8000_0011, Cr3 = 0x1000, Cr4 = 0x20, Efer = 0x500, Rip = code, Rflags = 2 };
        for (int i = 0; i < 6; i++)
        {
            s.Segments[i] = new Segment(0x10, 0, 0xFFFF_FFFF, 0xC93);
        }

        s.Cs = new Segment(0x08, 0, 0xFFFF_FFFF, 0xA9B);
        s.Gdtr = new DescriptorTable { Base = gdt, Limit = 23 };
        s.Idtr = new DescriptorTable { Base = idt, Limit = 0xFFF };
        s.Gpr[4] = 0x1F_0000;
        vcpu.SetCpu(s, CpuVendor.Intel);
        vcpu.SetCpuid2([new CpuidEntry(1, 0, 0, 0, 1u << 21 | 1u << 24, 0)]);

        var exit = Assert.IsType<KvmExit.Io>(vcpu.Run());
        Assert.Equal((true, (ushort)0xE9, (byte)'T'), (exit.IsOut, exit.Port, exit.Data[0]));
        Assert.True(vcpu.Cpu!.Tsc >= 10_000, $"TSC {vcpu.Cpu.Tsc}: the halted vCPU's clock jumps to the deadline");
        Assert.True(vcpu.Cpu.Tsc < 10_100);
        Assert.IsType<KvmExit.Hlt>(vcpu.Run()); // the second HLT: no timer armed, nothing can wake it
        Assert.Equal(-1, vcpu.Apic!.PendingVector());
    }

    /// <summary>
    /// A host timer in guest time (<see cref="VcpuFd.KickAtTsc"/>, how the VMM's quote service answers later): a
    /// vCPU halted with nothing else to wake it wakes at the kick's TSC, and KVM_RUN returns KVM_EXIT_INTR; the
    /// guest then goes on after its HLT.
    /// </summary>
    [Fact]
    public void KickAtTsc_WakesAHaltedVcpu_AndKvmRunReturnsIntr()
    {
        var vm = KvmSetup.Vm(KvmVmType.Default);
        vm.EnableCap(Split(24));
        var hva = vm.Kvm.Host.Map(4 << 20);
        vm.SetUserMemoryRegion2(new KvmUserspaceMemoryRegion2 { Slot = 0, GuestPhysAddr = 0, MemorySize = 4 << 20, UserspaceAddr = hva.Value, GuestMemfd = -1 });
        void Put(ulong gpa, byte[] bytes) => vm.Kvm.Host.Write(new Memory.Hva(hva.Value + gpa), bytes);
        const ulong code = 0x10_0000;
        Put(0x1000, BitConverter.GetBytes(0x2003UL));
        Put(0x2000, BitConverter.GetBytes(0x3003UL));
        Put(0x3000, BitConverter.GetBytes(0x83UL));
        Put(code, Assemble(code, a =>
        {
            a.hlt(); // IF clear, no timer: only the kick can end it
            a.mov(al, (byte)'K');
            a.@out(0xE9, al);
        }));

        var vcpu = vm.CreateVcpu(0);
        var s = new CpuState { Cr0 = 0x8000_0011, Cr3 = 0x1000, Cr4 = 0x20, Efer = 0x500, Rip = code, Rflags = 2 };
        s.Cs = new Segment(0x08, 0, 0xFFFF_FFFF, 0xA9B);
        vcpu.SetCpu(s, CpuVendor.Intel);
        vcpu.KickAtTsc = 50_000;

        Assert.IsType<KvmExit.Intr>(vcpu.Run());
        Assert.Equal(50_000UL, vcpu.Cpu!.Tsc);
        Assert.Null(vcpu.KickAtTsc);
        var exit = Assert.IsType<KvmExit.Io>(vcpu.Run());
        Assert.Equal((ushort)0xE9, exit.Port);
        vcpu.Cpu.State.Rip = code;
        Assert.IsType<KvmExit.Hlt>(vcpu.Run()); // without a kick, nothing wakes it
    }

    private static byte[] Assemble(ulong at, Action<Assembler> build)
    {
        var a = new Assembler(64);
        build(a);
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), at);
        return stream.ToArray();
    }
}
