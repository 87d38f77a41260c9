using CocoLaunch.Abi;
using CocoLaunch.Cpu;
using CocoLaunch.Formats;
using CocoLaunch.Formats.Ovmf;
using CocoLaunch.Kvm;
using CocoLaunch.Spec;
using CocoLaunch.Tests.Shared;
using CocoLaunch.Vmm.Launch;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CocoLaunch.Vmm.Tests;

/// <summary>
/// A finalized TD (the tdx-4k sample's launch, up to pre-fault) whose vCPU starts straight in 64-bit mode on code a
/// test assembles: page tables in TempMem (PAGE.ADDed, so usable), code at the image's first page. The test code
/// and tables are written into private memory behind the TD's back, which only a test may do.
/// </summary>
internal sealed class TdHarness
{
    public const ulong Code = 0xFFFF_0000, TempMem = 0x80_0000, Data = TempMem + 0x6000, Gdt = Data + 0x800, SharedAlias = 0x1_0000_0000;

    private TdHarness(LaunchContext context)
    {
        Context = context;
    }

    public LaunchContext Context { get; }

    public VmFd Vm => Context.RequireVm();

    public VcpuFd Vcpu => Context.Vcpus[0];

    public static TdHarness Create(Action<Assembler> code)
    {
        var spec = LaunchSpecParser.Load(RepoPaths.LaunchSpec("tdx-4k-sample.yaml"));
        var image = FirmwareImage.Load(spec.Firmware.Path);
        var context = LaunchRecipe.Run(new LaunchContext(spec, image, OvmfFirmware.Parse(image)), "prefault");
        var h = new TdHarness(context);
        h.WritePrivate(TempMem, PageTables());
        h.WritePrivate(Gdt, [.. BitConverter.GetBytes(0UL), .. BitConverter.GetBytes(0x00CF9B000000FFFFUL),
            .. BitConverter.GetBytes(0x00CF93000000FFFFUL), .. BitConverter.GetBytes(0x00AF9B000000FFFFUL)]);
        var a = new Assembler(64);
        code(a);
        TdvmcallHlt(a);
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), Code);
        h.WritePrivate(Code, stream.ToArray());

        var s = new CpuState { Cr0 = 0x8001_0031, Cr3 = TempMem, Cr4 = 0x20 | 0x600, Efer = 0xD01, Rip = Code };
        for (int i = 0; i < 6; i++)
        {
            s.Segments[i] = new Segment(0x10, 0, 0xFFFF_FFFF, 0xC93);
        }

        s.Segments[(int)SegmentName.Cs] = new Segment(0x18, 0, 0xFFFF_FFFF, 0xA9B);
        s.Gpr[4] = TempMem + 0x8000;
        s.Gdtr = new DescriptorTable { Base = Gdt, Limit = 31 };
        h.Vcpu.SetCpu(s, CpuVendor.Intel);
        h.Vcpu.SetCpuid2(Boot.CpuidModel.Entries());
        h.Vcpu.InstructionBudget = 10_000_000;
        return h;
    }

    /// <summary>TDCALL: the leaf in RAX, operands as the test loaded them.</summary>
    public static void Tdcall(Assembler a) => a.db(0x66, 0x0F, 0x01, 0xCC);

    /// <summary>TDG.VP.VMCALL sub-function in R11, exposing R10–R15.</summary>
    public static void Tdvmcall(Assembler a, ulong subfunction)
    {
        a.xor(eax, eax);
        a.mov(ecx, 0xFC00);
        a.xor(r10d, r10d);
        a.mov(r11, subfunction);
        Tdcall(a);
    }

    /// <summary>The end of every test program: TDVMCALL Instruction.HLT, which is KVM_EXIT_HLT.</summary>
    public static void TdvmcallHlt(Assembler a)
    {
        a.mov(rbx, rax); // keep the last TDCALL's status for the test
        a.mov(r9, r10);
        a.mov(rbp, r11);
        Tdvmcall(a, 12);
    }

    public void WritePrivate(ulong gpa, byte[] bytes) => Vm.BackingStoreForTests(gpa / PageSize.Size4K, isPrivate: true).Write(gpa, bytes);

    public byte[] ReadShared(ulong gpa, int length)
    {
        var data = new byte[length];
        Vm.BackingStoreForTests(gpa / PageSize.Size4K, isPrivate: false).Read(gpa, data);
        return data;
    }

    public ulong[] Gpr => Vcpu.Cpu!.State.Gpr;

    /// <summary>Identity 0..4 GiB (2 MiB pages, private), the shared view of 0..1 GiB at 4 GiB (bit 47 set).</summary>
    private static byte[] PageTables()
    {
        var t = new byte[0x6000];
        void Entry(int offset, ulong value) => BitConverter.GetBytes(value).CopyTo(t, offset);
        Entry(0x0000, (TempMem + 0x1000) | 3); // PML4[0] -> PDPT
        for (int g = 0; g < 4; g++)
        {
            Entry(0x1000 + (8 * g), (TempMem + 0x2000 + (ulong)(0x1000 * g)) | 3); // PDPT[g] -> PD g
            for (int m = 0; m < 512; m++)
            {
                Entry(0x2000 + (0x1000 * g) + (8 * m), (((ulong)g << 30) + ((ulong)m << 21)) | 0x83);
            }
        }

        Entry(0x1000 + (8 * 4), (1UL << 47) | 0x83); // PDPT[4]: 1 GiB shared alias of GPA 0
        return t;
    }

    /// <summary>An IDT in TempMem with one 64-bit interrupt gate for <paramref name="vector"/>.</summary>
    public static void InstallIdt(Assembler a, Label handler, int vector)
    {
        const ulong Idt = Data;
        a.mov(rdi, Idt);
        a.mov(__word_ptr[rdi + 0x1000], 256 * 16 - 1);
        a.mov(__dword_ptr[rdi + 0x1002], (int)Idt);
        a.mov(__dword_ptr[rdi + 0x1006], 0);
        a.lidt(__[rdi + 0x1000]);
        InstallGate(a, handler, vector);
    }

    public static void InstallGate(Assembler a, Label handler, int vector)
    {
        a.lea(rax, __[handler]);
        a.mov(rdx, rax);
        a.and(eax, 0xFFFF);
        a.mov(rcx, 0x8E00_0018_0000UL); // present interrupt gate, selector 0x18
        a.or(rax, rcx);
        a.mov(rcx, rdx);
        a.shr(rcx, 16);
        a.and(ecx, 0xFFFF);
        a.shl(rcx, 48);
        a.or(rax, rcx);
        a.mov(rdi, Data + (ulong)(16 * vector));
        a.mov(__qword_ptr[rdi], rax);
        a.shr(rdx, 32);
        a.mov(__qword_ptr[rdi + 8], rdx);
    }
}
