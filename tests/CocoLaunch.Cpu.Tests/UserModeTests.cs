using Iced.Intel;
using static CocoLaunch.Cpu.Tests.UserModeMachine;
using static Iced.Intel.AssemblerRegisters;

namespace CocoLaunch.Cpu.Tests;

/// <summary>
/// Ring 3 and back: IRETQ into user code, SYSCALL/SYSRET (SDM SYSCALL, SYSRET; AMD APM Vol. 3 SYSCALL, SYSRET),
/// SYSENTER/SYSEXIT, and a user fault delivered on the TSS stack (SDM Vol. 3A §6.14.2–6.14.5). The expected values
/// are the manuals' operation sections; the real-CPU harness cannot run CPL 0 code natively on these hosts.
/// </summary>
public sealed class UserModeTests
{
    private const ulong SfmaskLinux = 0x4_7700; // TF DF IF IOPL NT AC

    [Theory]
    [InlineData(CpuVendor.Amd, 0)]
    [InlineData(CpuVendor.Intel, 0)]
    [InlineData(CpuVendor.Amd, 1)]
    public void KernelIretqToUser_SyscallSysretq_ThenUserPageFaultOnTheTssStack(CpuVendor vendor, int ist)
    {
        using var m = Create(vendor);
        SetIst(m, 14, ist);
        Place(m, SyscallEntry, a =>
        {
            a.hlt(); // the test looks at what SYSCALL loaded
            a.add(rax, 1000);
            a.sysretq();
        });
        ulong faulting = PlaceMarked(m, UserCode, a =>
        {
            var mark = a.CreateLabel();
            a.mov(eax, 39);
            a.syscall();
            a.mov(rbx, rax); // 3 bytes: RCX after the SYSCALL points here
            a.Label(ref mark);
            a.mov(rax, __qword_ptr[rbp]); // RBP = a supervisor page
            return mark;
        });
        ulong afterSyscall = faulting - 3;
        m.State.Gpr[5] = LongModeMachine.CodeAddress;

        var exit = m.Run(a =>
        {
            a.mov(ax, TssSelector);
            a.ltr(ax);
            WriteMsr(a, 0xC000_0081, Star);
            WriteMsr(a, 0xC000_0082, SyscallEntry);
            WriteMsr(a, 0xC000_0084, SfmaskLinux);
            a.mov(ecx, 0xC000_0080);
            a.rdmsr();
            a.or(eax, 1);
            a.wrmsr();
            IretqToUser(a);
        });

        // SYSCALL: CS = STAR[47:32] & ~3, SS = STAR[47:32] + 8, RCX = next RIP, R11 = RFLAGS, RFLAGS &= ~SFMASK.
        Assert.Equal(SyscallEntry + 1, Assert.IsType<CpuExit.Halt>(exit).Rip);
        Assert.Equal(KernelCs, m.State.Cs.Selector);
        Assert.Equal(0xA9B, m.State.Cs.Attributes);
        Assert.Equal(KernelSs, m.State.Ss.Selector);
        Assert.Equal(0xC93, m.State.Ss.Attributes);
        Assert.Equal(afterSyscall, m.State.Gpr[1]);
        Assert.Equal(0x202UL, m.State.Gpr[11]);
        Assert.Equal(2UL, m.State.Rflags);
        Assert.Equal(UserStackTop, m.State.Gpr[4]); // SYSCALL does not switch stacks

        exit = m.Cpu.Run(1000);

        // SYSRET: CS = STAR[63:48] + 16 | 3 and SS = STAR[63:48] + 8 | 3, RFLAGS from R11; then the user read of a
        // supervisor page: #PF with P and U/S set, on RSP0 (or IST1), frame SS:RSP, RFLAGS, CS:RIP, error code.
        Assert.Equal(14, Vector(exit));
        Assert.Equal(1039UL, m.State.Gpr[3]);
        Assert.Equal(0, m.State.Cpl);
        Assert.Equal((ist == 0 ? Rsp0 : Ist1) - 48, m.State.Gpr[4]);
        Assert.Equal(LongModeMachine.CodeAddress, m.State.Cr2);
        Assert.Equal(5UL, Frame(m, 0));
        Assert.Equal(faulting, Frame(m, 1));
        Assert.Equal(UserCs, Frame(m, 2));
        Assert.Equal(0x202UL, Frame(m, 3));
        Assert.Equal(UserStackTop, Frame(m, 4));
        Assert.Equal(UserSs, Frame(m, 5));
    }

    [Fact]
    public void Syscall_WithoutEferSce_IsUd()
    {
        using var m = Create();
        var exit = m.Run(a => a.syscall());
        Assert.Equal(6, Vector(exit));
    }

    [Theory]
    [InlineData(CpuVendor.Intel)]
    [InlineData(CpuVendor.Amd)]
    public void Sysret_AtCpl3_IsGp(CpuVendor vendor)
    {
        using var m = Create(vendor);
        m.State.Efer |= CpuState.EferSce;
        EnterUser(m, a => a.sysretq());
        var exit = m.Cpu.Run(100);
        Assert.Equal(13, Vector(exit));
        Assert.Equal(UserCode, Frame(m, 1));
    }

    [Fact]
    public void Sysretq_NonCanonicalRcx_Intel_FaultsInRing0()
    {
        using var m = Create(CpuVendor.Intel);
        m.State.Efer |= CpuState.EferSce;
        m.State.Star = Star;
        var exit = m.Run(a =>
        {
            a.mov(rcx, 0x8000_0000_0000UL);
            a.sysretq();
        });
        Assert.Equal(13, Vector(exit));
        Assert.Equal(0UL, Frame(m, 0));
        Assert.Equal((ulong)KernelCs, Frame(m, 2)); // #GP(0) with the kernel's CS, on the kernel's stack
    }

    [Fact]
    public void Sysretq_NonCanonicalRcx_Amd_FaultsOnTheUserFetch()
    {
        using var m = Create(CpuVendor.Amd);
        m.State.Efer |= CpuState.EferSce;
        m.State.Star = Star;
        m.Ram.Write(0x7000 + 4, BitConverter.GetBytes(Rsp0));
        m.State.Tr = new Segment(TssSelector, 0x7000, 0x67, 0x8B);
        var exit = m.Run(a =>
        {
            a.mov(rcx, 0x8000_0000_0000UL);
            a.sysretq();
        });
        Assert.Equal(13, Vector(exit));
        Assert.Equal(0x8000_0000_0000UL, Frame(m, 1));
        Assert.Equal((ulong)UserCs, Frame(m, 2));
        Assert.Equal(Rsp0 - 48, m.State.Gpr[4]);
    }

    [Fact]
    public void Sysretd_ReturnsToCompatibilityMode()
    {
        using var m = Create(CpuVendor.Intel);
        m.State.Efer |= CpuState.EferSce;
        m.State.Star = Star;
        m.State.Gpr[11] = 0x8D7 | (1 << 16) | (1 << 17) | (1 << 9);
        m.Run(a =>
        {
            a.mov(ecx, (uint)UserCode);
            a.sysret(); // 0F 07 without REX.W: the 32-bit operand size
        }, maxInstructions: 2);
        Assert.Equal(UserCs32, m.State.Cs.Selector);
        Assert.Equal(0xCFB, m.State.Cs.Attributes); // 32-bit code, DPL 3
        Assert.Equal(UserSs, m.State.Ss.Selector);
        Assert.Equal(0xCF3, m.State.Ss.Attributes); // Intel forces the SS cache
        Assert.Equal(UserCode, m.State.Rip);
        Assert.Equal(0x8D7UL | (1 << 9), m.State.Rflags); // RF and VM cleared (mask 0x3C7FD7)
    }

    [Fact]
    public void Sysretq_Amd_KeepsTheSsCache()
    {
        using var m = Create(CpuVendor.Amd);
        m.State.Efer |= CpuState.EferSce;
        m.State.Star = Star;
        m.State.Ss = new Segment(0, 0, 0, 0); // as an interrupt from ring 3 leaves it
        m.Run(a =>
        {
            a.mov(ecx, (uint)UserCode);
            a.sysretq();
        }, maxInstructions: 2);
        Assert.Equal(UserSs, m.State.Ss.Selector);
        Assert.Equal(0, m.State.Ss.Attributes);
        Assert.Equal(3, m.State.Cpl);
    }

    [Theory]
    [InlineData(CpuVendor.Intel, true)]
    [InlineData(CpuVendor.Amd, false)]
    public void SyscallFromCompatibilityMode_IntelUd_AmdUsesCstar(CpuVendor vendor, bool ud)
    {
        using var m = Create(vendor);
        m.State.Efer |= CpuState.EferSce;
        m.State.Star = Star;
        m.State.Cstar = SyscallEntry;
        m.State.Sfmask = SfmaskLinux;
        Place(m, SyscallEntry, a => a.hlt());
        PlaceMarked(m, UserCode, a =>
        {
            a.syscall();
            return null;
        }, bitness: 32);
        m.State.Cs = new Segment(UserCs32, 0, 0xFFFF_FFFF, 0xCFB);
        m.State.Ss = new Segment(UserSs, 0, 0xFFFF_FFFF, 0xCF3);
        m.State.Rip = UserCode;
        m.State.Rflags = 0x202;
        m.Ram.Write(0x7000 + 4, BitConverter.GetBytes(Rsp0));
        m.State.Tr = new Segment(TssSelector, 0x7000, 0x67, 0x8B);

        var exit = m.Cpu.Run(10);

        Assert.True(ud == (Vector(exit) == 6), exit.ToString());
        if (ud)
        {
            Assert.Equal(6, Vector(exit));
        }
        else
        {
            Assert.Equal(SyscallEntry + 1, Assert.IsType<CpuExit.Halt>(exit).Rip);
            Assert.Equal(KernelCs, m.State.Cs.Selector);
            Assert.True(m.State.Cs.Long);
            Assert.Equal(UserCode + 2, m.State.Gpr[1]);
            Assert.Equal(0x202UL, m.State.Gpr[11]);
        }
    }

    [Fact]
    public void SysenterSysexitq_Intel_LoadsTheSelectorsFromSysenterCs()
    {
        using var m = Create(CpuVendor.Intel);
        m.State.SysenterCs = KernelCs;
        m.State.SysenterEip = SyscallEntry;
        m.State.SysenterEsp = Rsp0;
        Place(m, SyscallEntry, a =>
        {
            a.hlt();
            a.mov(rcx, UserStackTop - 8);
            a.mov(rdx, UserCode);
            a.sysexitq();
        });
        Place(m, UserCode, a => a.nop());
        m.State.Rflags = 0x2C2;
        m.Run(a => a.sysenter(), maxInstructions: 2);

        // SYSENTER: CS = SYSENTER_CS & ~3, SS = CS + 8, RSP/RIP from the MSRs, IF (and VM, RF) cleared.
        Assert.Equal(KernelCs, m.State.Cs.Selector);
        Assert.Equal(KernelSs, m.State.Ss.Selector);
        Assert.Equal(Rsp0, m.State.Gpr[4]);
        Assert.Equal(0xC2UL, m.State.Rflags);

        m.Cpu.Run(3);

        // SYSEXIT (64-bit): CS = SYSENTER_CS + 32 | 3, SS = SYSENTER_CS + 40 | 3, RSP = RCX, RIP = RDX.
        Assert.Equal(0x2B, m.State.Cs.Selector);
        Assert.True(m.State.Cs.Long);
        Assert.Equal(0x33, m.State.Ss.Selector);
        Assert.Equal(3, m.State.Cpl);
        Assert.Equal(UserStackTop - 8, m.State.Gpr[4]);
        Assert.Equal(UserCode, m.State.Rip);
    }

    [Fact]
    public void Sysenter_AmdLongMode_IsUd_AndZeroSysenterCs_IsGp()
    {
        using var amd = Create(CpuVendor.Amd);
        Assert.Equal(6, Vector(amd.Run(a => a.sysenter())));

        using var intel = Create(CpuVendor.Intel);
        Assert.Equal(13, Vector(intel.Run(a => a.sysenter())));
    }

    [Fact]
    public void Iretq_ToRing3_DoesNotRestoreIopl_AndRing3IretqKeepsIfWhenIoplIs0()
    {
        using var m = Create();
        EnterUser(m, a =>
        {
            a.push(UserSs);
            a.push((int)UserStackTop);
            a.push(0x3002); // IOPL 3, IF clear
            a.push(UserCs);
            a.push((int)(UserCode + 0x100));
            a.iretq();
        });
        Place(m, UserCode + 0x100, a => a.nop());
        m.Cpu.Run(7);
        Assert.Equal(UserCode + 0x101, m.State.Rip);
        Assert.Equal(0x202UL, m.State.Rflags); // entered with 0x202: IF stays (CPL 3 > IOPL 0), IOPL stays 0
    }

    [Fact]
    public void VerrVerw_AtCpl3_ReportAccessThroughZf()
    {
        using var m = Create();
        (ushort Selector, bool Write, bool Expected)[] cases =
        [
            (UserSs, true, true), (KernelSs, true, false), (KernelSs | 3, false, false), (UserCs, false, true), (UserCs, true, false),
            (TssSelector | 3, false, false), (0, true, false), (0x103, false, false),
        ];
        EnterUser(m, a =>
        {
            foreach (var c in cases)
            {
                a.mov(ax, c.Selector);
                if (c.Write)
                {
                    a.verw(ax);
                }
                else
                {
                    a.verr(ax);
                }

                a.setz(cl);
                a.shl(rbx, 1);
                a.or(bl, cl);
            }
        });
        m.State.Gpr[3] = 0;
        m.Cpu.Run(5 * cases.Length);
        ulong expected = cases.Aggregate(0UL, (acc, c) => (acc << 1) | (c.Expected ? 1UL : 0));
        Assert.Equal(expected, m.State.Gpr[3]);
    }

    /// <summary>Runs kernel code that IRETQs to <paramref name="user"/> at <see cref="UserModeMachine.UserCode"/> with RFLAGS 0x202.</summary>
    internal static void EnterUser(LongModeMachine m, Action<Assembler> user)
    {
        Place(m, UserCode, user);
        m.Ram.Write(0x7000 + 4, BitConverter.GetBytes(Rsp0));
        m.State.Tr = new Segment(TssSelector, 0x7000, 0x67, 0x8B);
        m.State.Star = Star;
        var exit = m.Run(IretqToUser, maxInstructions: 6);
        Assert.IsType<CpuExit.InstructionLimit>(exit);
        Assert.Equal(3, m.State.Cpl);
    }

    /// <summary>The frame IRETQ pops to enter user code at <see cref="UserModeMachine.UserCode"/> with RFLAGS 0x202: six instructions.</summary>
    private static void IretqToUser(Assembler a)
    {
        a.push(UserSs);
        a.push((int)UserStackTop);
        a.push(0x202);
        a.push(UserCs);
        a.push((int)UserCode);
        a.iretq();
    }

    private static void WriteMsr(Assembler a, uint index, ulong value)
    {
        a.mov(ecx, index);
        a.mov(eax, (uint)value);
        a.mov(edx, (uint)(value >> 32));
        a.wrmsr();
    }
}
