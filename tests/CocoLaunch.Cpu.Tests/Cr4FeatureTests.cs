using Iced.Intel;
using static CocoLaunch.Cpu.Tests.UserModeMachine;
using static Iced.Intel.AssemblerRegisters;

namespace CocoLaunch.Cpu.Tests;

/// <summary>
/// What the CR4 feature bits switch on, checked against the values and faults the SDM's instruction pages and
/// Vol. 3A §2.5 (CR4), §4.6.1 (SMEP, SMAP), §4.10.4 (PCID) give; these run at CPL 0, which the real-CPU harness
/// cannot run natively here.
/// </summary>
public sealed class Cr4FeatureTests
{
    private const ulong UserPage = 0x20_0000;

    [Fact]
    public void Smep_SupervisorFetchFromAUserPage_IsPageFaultWithIdBit()
    {
        using var m = Create();
        Place(m, UserCode, a => a.hlt());
        m.State.Cr4 |= CpuState.Cr4Smep;
        var exit = m.Run(a =>
        {
            a.mov(rax, UserCode);
            a.jmp(rax);
        });
        Assert.Equal(14, Vector(exit));
        Assert.Equal(0x11UL, Frame(m, 0)); // present, supervisor, instruction fetch
        Assert.Equal(UserCode, m.State.Cr2);

        using var off = Create();
        Place(off, UserCode, a => a.hlt());
        Assert.Equal(UserCode + 1, Assert.IsType<CpuExit.Halt>(off.Run(a =>
        {
            a.mov(rax, UserCode);
            a.jmp(rax);
        })).Rip);
    }

    [Fact]
    public void Smap_SupervisorDataAccessToUserPage_NeedsStac()
    {
        using var m = Create();
        m.State.Cr4 |= CpuState.Cr4Smap;
        m.Ram.Write(UserPage + 8, BitConverter.GetBytes(0x1234_5678UL));
        var exit = m.Run(a =>
        {
            a.mov(rsi, UserPage);
            a.stac();
            a.mov(rbx, __qword_ptr[rsi + 8]);
            a.mov(__qword_ptr[rsi + 16], rbx);
            a.clac();
            a.mov(rcx, __qword_ptr[rsi + 8]);
        });
        Assert.Equal(14, Vector(exit));
        Assert.Equal(0x1234_5678UL, m.State.Gpr[3]);
        Assert.Equal(0x1234_5678UL, BitConverter.ToUInt64(m.Ram.Read(UserPage + 16, 8)));
        Assert.Equal(1UL, Frame(m, 0)); // present, read, supervisor
        Assert.Equal(UserPage + 8, m.State.Cr2);
    }

    [Fact]
    public void Smap_SupervisorWriteWithoutAc_IsPageFault()
    {
        using var m = Create();
        m.State.Cr4 |= CpuState.Cr4Smap;
        var exit = m.Run(a =>
        {
            a.mov(rsi, UserPage);
            a.mov(__qword_ptr[rsi], rsi);
        });
        Assert.Equal(14, Vector(exit));
        Assert.Equal(3UL, Frame(m, 0));
    }

    [Fact]
    public void Smap_AcFromPopfq_AlsoLiftsIt()
    {
        using var m = Create();
        m.State.Cr4 |= CpuState.Cr4Smap;
        m.Ram.Write(UserPage, BitConverter.GetBytes(0xC0FFEEUL));
        var exit = m.Run(a =>
        {
            a.mov(rsi, UserPage);
            a.push(0x4_0002);
            a.popfq();
            a.mov(rbx, __qword_ptr[rsi]);
            a.push(2);
            a.popfq();
            a.mov(rcx, __qword_ptr[rsi]);
        });
        Assert.Equal(0xC0FFEEUL, m.State.Gpr[3]); // with AC the read goes through; once POPFQ clears it, #PF
        Assert.Equal(14, Vector(exit));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ClacStac_AtCpl3_AreUd(bool stac)
    {
        using var m = Create();
        UserModeTests.EnterUser(m, a =>
        {
            if (stac)
            {
                a.stac();
            }
            else
            {
                a.clac();
            }
        });
        Assert.Equal(6, Vector(m.Cpu.Run(100)));
    }

    [Theory]
    [InlineData("sgdt")]
    [InlineData("sidt")]
    [InlineData("sldt")]
    [InlineData("smsw")]
    [InlineData("str")]
    public void Umip_DescriptorTableReadsAtCpl3_AreGp(string which)
    {
        foreach (bool umip in new[] { true, false })
        {
            using var m = Create();
            if (umip)
            {
                m.State.Cr4 |= CpuState.Cr4Umip;
            }

            UserModeTests.EnterUser(m, a =>
            {
                var at = __[rsp - 16];
                switch (which)
                {
                    case "sgdt": a.sgdt(at); break;
                    case "sidt": a.sidt(at); break;
                    case "sldt": a.sldt(eax); break;
                    case "smsw": a.smsw(eax); break;
                    default: a.str(eax); break;
                }

                a.nop();
            });
            var exit = m.Cpu.Run(2);
            Assert.Equal(umip ? 13 : null, Vector(exit));
            if (umip)
            {
                Assert.Equal(0UL, Frame(m, 0));
            }
        }
    }

    [Fact]
    public void FsGsBase_WithoutCr4Bit_IsUd()
    {
        using var m = Create();
        Assert.Equal(6, Vector(m.Run(a => a.rdfsbase(rax))));
    }

    [Fact]
    public void FsGsBase_ReadWriteAndUse_AtCpl3()
    {
        using var m = Create();
        m.State.Cr4 |= CpuState.Cr4FsGsBase;
        m.Ram.Write(UserPage + 0x40, BitConverter.GetBytes(0xFEED_F00DUL));
        m.State.Gpr[3] = UserPage;
        UserModeTests.EnterUser(m, a =>
        {
            a.wrfsbase(rbx);
            a.mov(rcx, __qword_ptr.fs[0x40]);
            a.mov(edx, 0xFFFF_FFFF);
            a.wrgsbase(edx);
            a.rdgsbase(r8);
            a.rdfsbase(r9d);
            a.mov(rax, 0x8000_0000_0000UL);
            a.wrgsbase(rax);
        });
        var exit = m.Cpu.Run(100);
        Assert.Equal(0xFEED_F00DUL, m.State.Gpr[1]);
        Assert.Equal(0xFFFF_FFFFUL, m.State.Gpr[8]); // a 32-bit source is zero-extended
        Assert.Equal(UserPage, m.State.Gpr[9]);
        Assert.Equal(13, Vector(exit)); // a non-canonical base is #GP(0)
        Assert.Equal(0xFFFF_FFFFUL, m.State.Segments[(int)SegmentName.Gs].Base);
    }

    [Fact]
    public void Rdpid_ReadsTscAux_AtAnyCpl_AndRdtscpToo()
    {
        using var m = Create();
        m.State.TscAux = 0x1_0203;
        m.State.Cr4 |= CpuState.Cr4Tsd;
        UserModeTests.EnterUser(m, a =>
        {
            a.mov(rax, -1L);
            a.rdpid(rax);
            a.mov(rbx, rax);
            a.rdtscp();
        });
        var exit = m.Cpu.Run(100);
        Assert.Equal(0x1_0203UL, m.State.Gpr[3]);
        Assert.Equal(13, Vector(exit)); // CR4.TSD: RDTSCP at CPL 3 is #GP(0); RDPID has no such check
    }

    [Fact]
    public void Wrmsr_TscAuxUpperHalf_AndNonCanonicalLstar_AreGp()
    {
        using var m = Create();
        Assert.Equal(13, Vector(m.Run(a =>
        {
            a.mov(ecx, 0xC000_0103);
            a.mov(edx, 1);
            a.wrmsr();
        })));
        using var n = Create();
        Assert.Equal(13, Vector(n.Run(a =>
        {
            a.mov(ecx, 0xC000_0082);
            a.mov(edx, 0x8000);
            a.xor(eax, eax);
            a.wrmsr();
        })));
    }

    [Fact]
    public void Rdrand_RepeatsPerSeed_SetsOnlyCf()
    {
        ulong[] Run(ulong seed)
        {
            using var m = Create();
            m.Cpu.RandomSeed = seed;
            m.State.Rflags = 0x8D7;
            m.State.Gpr[2] = 0x1111_2222_3333_4444;
            m.Run(a =>
            {
                a.rdrand(rax);
                a.rdseed(rbx);
                a.rdrand(ecx);
                a.rdrand(dx);
            });
            return [m.State.Gpr[0], m.State.Gpr[3], m.State.Gpr[1], m.State.Gpr[2], m.State.Rflags];
        }

        var first = Run(7);
        Assert.Equal(first, Run(7));
        Assert.NotEqual(first[0], Run(8)[0]);
        Assert.NotEqual(first[0], first[1]);
        Assert.Equal(0UL, first[2] >> 32);
        Assert.Equal(0x1111_2222_3333_0000UL, first[3] & ~0xFFFFUL); // a 16-bit destination keeps the rest
        Assert.Equal(0x3UL, first[4] & 0x8D7); // CF = 1, OF SF ZF AF PF = 0
    }

    [Theory]
    [InlineData(4, 0, 0x1000UL, 13)] // type > 3
    [InlineData(2, 0x1000, 0x1000UL, 13)] // descriptor bits 63:12
    [InlineData(0, 1, 0x1000UL, 13)] // PCID without CR4.PCIDE
    [InlineData(0, 0, 0x8000_0000_0000UL, 13)] // non-canonical address
    [InlineData(0, 0, 0x1000UL, null)]
    [InlineData(1, 0, 0UL, null)]
    [InlineData(3, 5, 0UL, null)] // types 2 and 3 ignore the PCID field
    public void Invpcid_Checks(int type, int pcid, ulong address, int? vector)
    {
        using var m = Create();
        m.Ram.Write(UserPage + 0x100, [.. BitConverter.GetBytes((ulong)pcid), .. BitConverter.GetBytes(address)]);
        var exit = m.Run(a =>
        {
            a.mov(eax, type);
            a.mov(rsi, UserPage + 0x100);
            a.invpcid(rax, __[rsi]);
        });
        Assert.Equal(vector, Vector(exit));
    }

    [Fact]
    public void Invpcid_AtCpl3_IsGp()
    {
        using var m = Create();
        UserModeTests.EnterUser(m, a => a.invpcid(rax, __[rsp - 16]));
        Assert.Equal(13, Vector(m.Cpu.Run(10)));
    }

    [Fact]
    public void Pcide_NeedsPcid0InCr3_ThenCr3Bit63IsNotStored()
    {
        using var m = Create();
        m.State.Cr3 |= 5;
        Assert.Equal(13, Vector(m.Run(a =>
        {
            a.mov(rax, cr4);
            a.or(eax, (int)CpuState.Cr4Pcide);
            a.mov(cr4, rax);
        })));

        using var n = Create();
        ulong root = n.State.Cr3;
        var exit = n.Run(a =>
        {
            a.mov(rax, cr4);
            a.or(eax, (int)CpuState.Cr4Pcide);
            a.mov(cr4, rax);
            a.mov(rax, 0x8000_0000_0000_0007UL | root);
            a.mov(cr3, rax);
            a.mov(rbx, cr3);
        });
        Assert.Null(Vector(exit));
        Assert.Equal(root | 7, n.State.Gpr[3]);
    }

    [Fact]
    public void Cr3Bit63_WithoutPcide_IsGp()
    {
        using var m = Create();
        ulong root = m.State.Cr3;
        Assert.Equal(13, Vector(m.Run(a =>
        {
            a.mov(rax, 0x8000_0000_0000_0000UL | root);
            a.mov(cr3, rax);
        })));
    }
}
