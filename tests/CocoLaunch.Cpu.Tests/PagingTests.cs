using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CocoLaunch.Cpu.Tests;

/// <summary>
/// 4-level paging with 4 KiB pages over the scratch area: permissions and #PF error codes, accessed and dirty
/// bits, and when the software TLB must forget a translation (MOV CR3, INVLPG) and when it may keep it.
/// Each case runs interpreted and with blocks compiled on first run.
/// </summary>
public sealed class PagingTests
{
    private const ulong Pt = 0x9000; // page table for 2–4 MiB, in 4 KiB pages
    private const ulong Pd = 0x3000;
    private const ulong Page = LongModeMachine.ScratchAddress; // 0x200000: the page the cases play with
    private const ulong Other = Page + 0x10_000; // another frame, also identity-mapped
    private const ulong Pte = Pt; // PTE of Page

    public static TheoryData<bool> Modes() => [false, true];

    [Theory]
    [MemberData(nameof(Modes))]
    public void Write_ToReadOnlyPageWithWp_IsPageFaultPresentWrite(bool compiled)
    {
        using var m = Machine(compiled);
        m.Ram.Write(Pte, BitConverter.GetBytes(Page | 0x1)); // present, read-only, supervisor
        m.State.Cr0 |= CpuState.Cr0Wp;
        var exit = m.Run(a => a.mov(__dword_ptr[rsi], eax));
        AssertFault(m, exit, 14, errorCode: 0x3, cr2: Page);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Write_ToReadOnlyPageWithoutWp_SucceedsAtCpl0(bool compiled)
    {
        using var m = Machine(compiled);
        m.Ram.Write(Pte, BitConverter.GetBytes(Page | 0x1));
        m.State.Cr0 &= ~CpuState.Cr0Wp;
        m.State.Gpr[0] = 0x1234_5678;
        Assert.IsType<CpuExit.Halt>(m.Run(a => a.mov(__dword_ptr[rsi], eax)));
        Assert.Equal(0x1234_5678u, BitConverter.ToUInt32(m.Ram.Read(Page, 4)));
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Read_OfNotPresentPage_IsPageFaultWithErrorCode0(bool compiled)
    {
        using var m = Machine(compiled);
        m.Ram.Write(Pte, BitConverter.GetBytes(0UL));
        var exit = m.Run(a => a.mov(eax, __dword_ptr[rsi + 0x123]));
        AssertFault(m, exit, 14, errorCode: 0x0, cr2: Page + 0x123);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Fetch_FromNxPageWithNxe_IsPageFaultInstructionFetch(bool compiled)
    {
        using var m = Machine(compiled);
        m.Ram.Write(Pte, BitConverter.GetBytes(Page | 0x3 | (1UL << 63)));
        m.State.Efer |= CpuState.EferNxe;
        m.Ram.Write(Page, [0x90, 0xF4]); // nop; hlt
        var exit = m.Run(a => a.jmp(Page));
        AssertFault(m, exit, 14, errorCode: 0x11, cr2: Page);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Access_SetsAccessedThenDirty(bool compiled)
    {
        using var m = Machine(compiled);
        m.Ram.Write(Pte, BitConverter.GetBytes(Page | 0x3));
        m.Run(a => a.mov(eax, __dword_ptr[rsi]));
        Assert.Equal(Page | 0x23, BitConverter.ToUInt64(m.Ram.Read(Pte, 8))); // A
        m.State.Rip = LongModeMachine.CodeAddress;
        m.Run(a => a.mov(__dword_ptr[rsi], eax));
        Assert.Equal(Page | 0x63, BitConverter.ToUInt64(m.Ram.Read(Pte, 8))); // A and D
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Invlpg_DropsTheStaleTranslation_WhileWithoutItTheTlbMayKeepIt(bool compiled)
    {
        using var m = Machine(compiled);
        m.Ram.Write(Page, BitConverter.GetBytes(0x1111u));
        m.Ram.Write(Other, BitConverter.GetBytes(0x2222u));
        m.State.Gpr[3] = Pte;
        m.State.Gpr[2] = Other | 0x3;
        var exit = m.Run(a =>
        {
            a.mov(eax, __dword_ptr[rsi]); // fills the TLB: 0x1111
            a.mov(__qword_ptr[rbx], rdx); // remap Page to Other, without telling the TLB
            a.mov(ecx, __dword_ptr[rsi]); // still 0x1111 (a TLB may keep a translation until INVLPG)
            a.invlpg(__[rsi]);
            a.mov(edi, __dword_ptr[rsi]); // now 0x2222
        });
        Assert.IsType<CpuExit.Halt>(exit);
        Assert.Equal((0x1111UL, 0x1111UL, 0x2222UL), (m.State.Gpr[0], m.State.Gpr[1], m.State.Gpr[7]));
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void MovCr3_FlushesEveryTranslation(bool compiled)
    {
        using var m = Machine(compiled);
        // A second PML4 sharing the upper levels but with its own page directory and page table, mapping Page to Other.
        CopyTable(m, 0x1000, 0xA000);
        CopyTable(m, 0x2000, 0xB000);
        CopyTable(m, Pd, 0xC000);
        CopyTable(m, Pt, 0xD000);
        m.Ram.Write(0xA000, BitConverter.GetBytes(0xB000UL | 3));
        m.Ram.Write(0xB000, BitConverter.GetBytes(0xC000UL | 3));
        m.Ram.Write(0xC008, BitConverter.GetBytes(0xD000UL | 3));
        m.Ram.Write(0xD000, BitConverter.GetBytes(Other | 3));
        m.Ram.Write(Page, BitConverter.GetBytes(0x1111u));
        m.Ram.Write(Other, BitConverter.GetBytes(0x2222u));
        m.State.Gpr[3] = 0xA000;
        var exit = m.Run(a =>
        {
            a.mov(eax, __dword_ptr[rsi]);
            a.mov(cr3, rbx);
            a.mov(ecx, __dword_ptr[rsi]);
        });
        Assert.IsType<CpuExit.Halt>(exit);
        Assert.Equal((0x1111UL, 0x2222UL), (m.State.Gpr[0], m.State.Gpr[1]));
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void SelfModifyingCode_RunsTheNewBytes_EvenInACompiledBlock(bool compiled)
    {
        using var m = Machine(compiled);
        // A loop whose body patches the immediate of an instruction ahead of it: 1, then 2, then 3 is added.
        var exit = m.Run(a =>
        {
            var loop = a.CreateLabel();
            var patched = a.CreateLabel();
            a.xor(eax, eax);
            a.mov(ecx, 1);
            a.Label(ref loop);
            a.lea(rdx, __[patched]);
            a.mov(__dword_ptr[rdx + 1], ecx); // the imm32 of the ADD below
            a.Label(ref patched);
            a.add(eax, 0x7777_7777);
            a.inc(ecx);
            a.cmp(ecx, 4);
            a.jne(loop);
        });
        Assert.IsType<CpuExit.Halt>(exit);
        Assert.Equal(6UL, m.State.Gpr[0]);
    }

    public static TheoryData<bool, bool> ModesWithCBit => new() { { false, false }, { true, false }, { false, true }, { true, true } };

    [Theory]
    [MemberData(nameof(ModesWithCBit))]
    public void CodeWrittenThenRun_RewrittenThroughTheSameTlbEntry_RunsTheNewBytes(bool compiled, bool snpCBit)
    {
        // The guest writes a function (filling the write TLB for its page), calls it (decoding the page as
        // code), then patches it through the same TLB entry: the second call must run the patched bytes. With
        // an SNP C-bit in every mapping, fetches and writes must still name the same page.
        using var m = new LongModeMachine(wrap: snpCBit ? ram => new CBitPlatform(ram) : null);
        if (snpCBit)
        {
            for (ulong i = 0; i < 2; i++)
            {
                m.Ram.Write(0x3000 + (i * 8), BitConverter.GetBytes((i << 21) | 0x83 | CBitPlatform.CBit));
            }
        }

        m.Cpu.JitThreshold = compiled ? 0 : int.MaxValue;
        var exit = m.Run(a =>
        {
            a.mov(rdi, LongModeMachine.ScratchAddress);
            a.mov(__byte_ptr[rdi], 0xB8); // mov eax, imm32
            a.mov(__dword_ptr[rdi + 1], 1);
            a.mov(__byte_ptr[rdi + 5], 0xC3); // ret
            a.call(rdi);
            a.mov(ebx, eax);
            a.mov(__dword_ptr[rdi + 1], 2);
            a.call(rdi);
        });
        Assert.IsType<CpuExit.Halt>(exit);
        Assert.Equal((1UL, 2UL), (m.State.Gpr[3], m.State.Gpr[0]));
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Pvalidate_OfAnUnmappedAddress_IsAPageFaultOnTheInstruction(bool compiled)
    {
        // PVALIDATE translates RAX like a read (AMD APM Vol. 3, PVALIDATE: #PF); Linux's early boot relies on the #PF
        // to map the direct-map page it is accepting (early_make_pgtable) and then runs the instruction again.
        using var m = Machine(compiled);
        m.Ram.Write(Pte, BitConverter.GetBytes(0UL)); // Page not present
        m.State.Gpr[0] = Page + 0x123;
        var exit = Assert.IsType<CpuExit.InstructionExit>(m.Run(a => a.pvalidate()));
        Assert.Equal(ExitInstruction.Pvalidate, exit.Instruction);

        Assert.False(m.Cpu.TranslateOrFault(m.State.Gpr[0], exit, out _));

        AssertFault(m, m.Cpu.Run(1000), 14, errorCode: 0x0, cr2: Page + 0x123);
        Assert.Equal(exit.Rip, BitConverter.ToUInt64(m.Ram.Read(m.State.Gpr[4] + 8, 8))); // the faulting RIP: PVALIDATE itself
    }

    private static void CopyTable(LongModeMachine m, ulong from, ulong to) => m.Ram.Write(to, m.Ram.Read(from, 4096));

    private static void AssertFault(LongModeMachine m, CpuExit exit, int vector, ulong errorCode, ulong cr2)
    {
        Assert.Equal(0x5000UL + (ulong)vector + 1, Assert.IsType<CpuExit.Halt>(exit).Rip);
        Assert.Equal(errorCode, BitConverter.ToUInt64(m.Ram.Read(m.State.Gpr[4], 8)));
        Assert.Equal(cr2, m.State.Cr2);
    }

    private static LongModeMachine Machine(bool compiled)
    {
        var m = new LongModeMachine();
        VectorReplayTests.InstallExceptionHandlers(m);
        m.Cpu.JitThreshold = compiled ? 0 : int.MaxValue;
        for (ulong i = 0; i < 512; i++)
        {
            m.Ram.Write(Pt + (i * 8), BitConverter.GetBytes((Page + (i << 12)) | 0x3));
        }

        m.Ram.Write(Pd + 8, BitConverter.GetBytes(Pt | 0x3));
        m.State.Gpr[6] = Page;
        return m;
    }
}

/// <summary>An SEV-SNP-style view of RAM: bit 51 of a GPA is the C-bit, set for private accesses.</summary>
internal sealed unsafe class CBitPlatform(IPlatform ram) : IPlatform
{
    public const ulong CBit = 1UL << 51;

    public ulong ConfidentialGpaBit => CBit;

    public bool ConfidentialBitMeansPrivate => true;

    public byte* RamPage(ulong gfn, bool isPrivate, bool write) => ram.RamPage(gfn, isPrivate: false, write);
}
