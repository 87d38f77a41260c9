using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CocoLaunch.Cpu.Tests;

/// <summary>
/// The x87 data instructions against IEEE 754 as .NET's double arithmetic computes it: with precision control at
/// 53 bits (FCW 0x27F, what edk2 sets) and round-to-nearest, an x87 add, subtract, multiply or divide of two doubles,
/// stored as a double, is the correctly rounded binary64 result whenever it lies in the normal range (SDM vol. 1
/// §8.1.5.2), so every such result must equal .NET's bit for bit.
/// </summary>
public sealed class X87Tests
{
    private const ulong A = LongModeMachine.ScratchAddress, B = A + 8, R = A + 16, Cw = A + 24;

    private static ulong Run(LongModeMachine m, Action<Assembler> body)
    {
        m.State.Rip = LongModeMachine.CodeAddress; // the machine is reused: start each program at its first byte
        Assert.IsType<CpuExit.Halt>(m.Run(body));
        return BitConverter.ToUInt64(m.Ram.Read(R, 8));
    }

    [Theory]
    [InlineData("add")]
    [InlineData("sub")]
    [InlineData("mul")]
    [InlineData("div")]
    public void DoubleArithmetic_AtPrecision53_IsIeeeBinary64(string op)
    {
        using var m = new LongModeMachine();
        var random = new Random(20261207);
        m.Ram.Write(Cw, BitConverter.GetBytes((ushort)0x027F));
        int compared = 0;
        for (int n = 0; n < 400; n++)
        {
            double a = (random.NextDouble() - 0.5) * Math.Pow(2, random.Next(-60, 60));
            double b = (random.NextDouble() - 0.5) * Math.Pow(2, random.Next(-60, 60));
            double expected = op switch { "add" => a + b, "sub" => a - b, "mul" => a * b, _ => a / b };
            if (!double.IsNormal(expected))
            {
                continue;
            }

            m.Ram.Write(A, BitConverter.GetBytes(a));
            m.Ram.Write(B, BitConverter.GetBytes(b));
            ulong got = Run(m, x =>
            {
                x.fldcw(__word_ptr[Cw]);
                x.fld(__qword_ptr[A]);
                x.fld(__qword_ptr[B]);
                switch (op)
                {
                    case "add": x.faddp(st1, st0); break;
                    case "sub": x.fsubp(st1, st0); break;
                    case "mul": x.fmulp(st1, st0); break;
                    default: x.fdivp(st1, st0); break;
                }

                x.fstp(__qword_ptr[R]);
            });
            Assert.True(BitConverter.DoubleToUInt64Bits(expected) == got, $"{a:R} {op} {b:R}: expected {expected:R}, got {BitConverter.UInt64BitsToDouble(got):R}");
            compared++;
        }

        Assert.True(compared > 350, $"only {compared} cases compared");
    }

    [Theory]
    [InlineData(2.5, 0x037F, 2L)] // round to nearest even
    [InlineData(3.5, 0x037F, 4L)]
    [InlineData(-2.5, 0x037F, -2L)]
    [InlineData(2.7, 0x077F, 2L)] // RC = down
    [InlineData(-2.2, 0x077F, -3L)]
    [InlineData(2.2, 0x0B7F, 3L)] // RC = up
    [InlineData(-2.7, 0x0F7F, -2L)] // RC = toward zero
    public void Fistp_RoundsByTheControlWord(double value, ushort controlWord, long expected)
    {
        using var m = new LongModeMachine();
        m.Ram.Write(A, BitConverter.GetBytes(value));
        m.Ram.Write(Cw, BitConverter.GetBytes(controlWord));
        Assert.Equal(expected, (long)Run(m, x =>
        {
            x.fldcw(__word_ptr[Cw]);
            x.fld(__qword_ptr[A]);
            x.fistp(__qword_ptr[R]);
        }));
    }

    [Theory]
    [InlineData(int.MinValue)]
    [InlineData(-7)]
    [InlineData(0)]
    [InlineData(123456789)]
    public void FildThenFstp_IsTheExactDouble(int value)
    {
        using var m = new LongModeMachine();
        m.Ram.Write(A, BitConverter.GetBytes(value));
        Assert.Equal(BitConverter.DoubleToUInt64Bits(value), Run(m, x =>
        {
            x.fild(__dword_ptr[A]);
            x.fstp(__qword_ptr[R]);
        }));
    }

    [Theory]
    [InlineData(1.0, 2.0, 0x001UL)] // ST0 < ST1: CF
    [InlineData(2.0, 2.0, 0x040UL)] // equal: ZF
    [InlineData(3.0, 2.0, 0x000UL)]
    [InlineData(double.NaN, 2.0, 0x045UL)] // unordered: ZF, PF, CF
    public void Fcomi_SetsZfPfCf(double top, double next, ulong flags)
    {
        using var m = new LongModeMachine();
        m.Ram.Write(A, BitConverter.GetBytes(next));
        m.Ram.Write(B, BitConverter.GetBytes(top));
        Run(m, x =>
        {
            x.fld(__qword_ptr[A]);
            x.fld(__qword_ptr[B]);
            x.fcomip(st0, st1);
            x.fstp(st0);
        });
        Assert.Equal(flags, m.State.Rflags & 0x45);
    }

    [Fact]
    public void OneThird_AtPrecision64_RoundsOnceMoreWhenStoredAsDouble()
    {
        // 1/3 at 64 bits is 0xAAAA…AAAB × 2^-65; stored as a double it rounds to 0x3FD5555555555555, the double 1/3.
        using var m = new LongModeMachine();
        m.Ram.Write(A, BitConverter.GetBytes(1.0));
        m.Ram.Write(B, BitConverter.GetBytes(3.0));
        Assert.Equal(BitConverter.DoubleToUInt64Bits(1.0 / 3), Run(m, x =>
        {
            x.fninit();
            x.fld(__qword_ptr[A]);
            x.fdiv(__qword_ptr[B]);
            x.fstp(__qword_ptr[R]);
        }));
    }

    [Fact]
    public void Fxsave_StoresTheStackInStOrder_WithTheAbridgedTag()
    {
        using var m = new LongModeMachine();
        const ulong Area = A + 0x100;
        Run(m, x =>
        {
            x.fninit();
            x.fld1();
            x.fldz();
            x.fxsave(__[Area]);
        });
        Assert.Equal(0xC0, m.Ram.Read(Area + 4, 1)[0]); // R7 (ST0, zero) and R6 (ST1, one) are valid
        Assert.Equal(new byte[10], m.Ram.Read(Area + 32, 10)); // ST(0) = +0
        Assert.Equal(new byte[] { 0, 0, 0, 0, 0, 0, 0, 0x80, 0xFF, 0x3F }, m.Ram.Read(Area + 48, 10)); // ST(1) = 1.0
    }
}

/// <summary>Float80's own conversions: every double goes in exactly and comes back unchanged.</summary>
public sealed class Float80Tests
{
    [Theory]
    [InlineData(-13892292412880368.0)]
    [InlineData(1.0)]
    [InlineData(-0.0)]
    [InlineData(5e-324)]
    [InlineData(double.MaxValue)]
    [InlineData(double.PositiveInfinity)]
    public void Double_RoundTrips(double value)
    {
        ulong bits = BitConverter.DoubleToUInt64Bits(value);
        Assert.Equal(bits, Float80.FromDouble(bits).ToBinary(52, 11, 0));
    }
}
