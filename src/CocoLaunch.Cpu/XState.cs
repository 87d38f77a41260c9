using Iced.Intel;
using static CocoLaunch.Cpu.CpuState;

namespace CocoLaunch.Cpu;

/// <summary>
/// Processor extended state in memory: FXSAVE/FXRSTOR's 512-byte legacy region, and XSAVE/XRSTOR in the standard
/// form for the two components this CPU has, x87 (XCR0 bit 0) and SSE (bit 1). The x87 part is the minimal one
/// the CPU models: control, status and tag words; the eight ST registers are stored as zeros.
/// </summary>
public sealed partial class X86Cpu
{
    // The legacy region (SDM Vol. 1, 10.5.1) and the XSAVE header after it (13.4.2).
    private const int FcwOffset = 0, FswOffset = 2, FtwOffset = 4, MxcsrOffset = 24, MxcsrMaskOffset = 28, StOffset = 32, XmmOffset = 160;
    private const int LegacySize = 512, XstateBvOffset = 512, XcompBvOffset = 520, HeaderReservedOffset = 528;
    private const ulong X87 = 1, Sse = 2;

    /// <summary>The XCR0 components this CPU implements: x87 and SSE. The platform's XSETBV must refuse others.</summary>
    public const ulong SupportedXcr0 = X87 | Sse;
    private const uint MxcsrMask = 0xFFFF;

    /// <summary>
    /// XSETBV's architectural checks (SDM XSETBV): only XCR0 (ECX = 0), x87 always on, and nothing outside
    /// <paramref name="offered"/> and what this CPU implements. False means #GP(0) and XCR0 unchanged.
    /// </summary>
    public static bool TrySetXcr0(CpuState state, ulong offered)
    {
        ulong value = ((state.Gpr[2] & 0xFFFF_FFFF) << 32) | (state.Gpr[0] & 0xFFFF_FFFF);
        if ((state.Gpr[1] & 0xFFFF_FFFF) != 0 || (value & X87) == 0 || (value & ~(offered & SupportedXcr0)) != 0)
        {
            return false;
        }

        state.Xcr0 = value;
        return true;
    }

    private bool ExecuteXsave(ref Instruction i)
    {
        if (i.Mnemonic is not (Mnemonic.Xsave or Mnemonic.Xsave64 or Mnemonic.Xrstor or Mnemonic.Xrstor64 or Mnemonic.Xsaveopt or Mnemonic.Xsaveopt64))
        {
            return false;
        }

        RequireOsXsave();
        if ((State.Cr0 & Cr0Ts) != 0)
        {
            throw new GuestFault(Vector.DeviceNotAvailable);
        }

        var seg = SegOf(i.MemorySegment);
        ulong ea = EffectiveAddress(i);
        if ((Linear(seg, ea, LegacySize + 64) & 63) != 0)
        {
            throw GuestFault.Gp();
        }

        ulong rfbm = State.Xcr0 & (((State.Gpr[2] & 0xFFFF_FFFF) << 32) | (State.Gpr[0] & 0xFFFF_FFFF));
        // XSAVEOPT may skip components that are unmodified or in their initial state; saving them anyway, as
        // XSAVE does, is one of the results it allows (SDM Vol. 1 §13.9).
        if (i.Mnemonic is Mnemonic.Xsave or Mnemonic.Xsave64 or Mnemonic.Xsaveopt or Mnemonic.Xsaveopt64)
        {
            Xsave(seg, ea, rfbm, i.Mnemonic is Mnemonic.Xsave64 or Mnemonic.Xsaveopt64 || bitness == 64);
        }
        else
        {
            Xrstor(seg, ea, rfbm, i.Mnemonic == Mnemonic.Xrstor64 || bitness == 64);
        }

        return true;
    }

    /// <summary>XSAVE, XRSTOR, XGETBV and XSETBV exist only once the OS has set CR4.OSXSAVE.</summary>
    private void RequireOsXsave()
    {
        if ((State.Cr4 & Cr4OsXsave) == 0)
        {
            throw GuestFault.Ud();
        }
    }

    private void Xsave(SegmentName seg, ulong ea, ulong rfbm, bool allXmm)
    {
        ulong xstateBv = Read(seg, ea + XstateBvOffset, 8);
        if ((rfbm & X87) != 0)
        {
            SaveX87(seg, ea);
        }

        if ((rfbm & Sse) != 0)
        {
            SaveXmm(seg, ea, allXmm);
            Write(seg, ea + MxcsrOffset, 4, State.Mxcsr);
            Write(seg, ea + MxcsrMaskOffset, 4, MxcsrMask);
        }

        // A saved component is reported in use: the architecture allows XINUSE = 1 for a component in its
        // initial configuration, and XRSTOR then loads the same values.
        Write(seg, ea + XstateBvOffset, 8, (xstateBv & ~rfbm) | rfbm);
    }

    private void Xrstor(SegmentName seg, ulong ea, ulong rfbm, bool allXmm)
    {
        ulong xstateBv = Read(seg, ea + XstateBvOffset, 8);
        // The standard form: XCOMP_BV and the next 8 bytes are zero, and no component beyond XCR0 is claimed.
        if (Read(seg, ea + XcompBvOffset, 8) != 0 || Read(seg, ea + HeaderReservedOffset - 8, 8) != 0 || (xstateBv & ~State.Xcr0) != 0)
        {
            throw GuestFault.Gp();
        }

        uint mxcsr = (uint)Read(seg, ea + MxcsrOffset, 4);
        if ((rfbm & Sse) != 0 && (mxcsr & ~MxcsrMask) != 0)
        {
            throw GuestFault.Gp();
        }

        if ((rfbm & X87) != 0)
        {
            if ((xstateBv & X87) != 0)
            {
                LoadX87(seg, ea);
            }
            else
            {
                (State.FpuControl, State.FpuStatus, State.FpuTag) = ((ushort)0x037F, (ushort)0, (ushort)0xFFFF);
            }
        }

        if ((rfbm & Sse) != 0)
        {
            if ((xstateBv & Sse) != 0)
            {
                LoadXmm(seg, ea, allXmm);
            }
            else
            {
                Array.Clear(State.Xmm, 0, allXmm ? 32 : 16);
            }

            State.Mxcsr = mxcsr;
        }
    }

    private void Fxsave(ref Instruction i)
    {
        var (seg, ea) = LegacyRegion(ref i);
        SaveX87(seg, ea);
        Write(seg, ea + MxcsrOffset, 4, State.Mxcsr);
        Write(seg, ea + MxcsrMaskOffset, 4, MxcsrMask);
        SaveXmm(seg, ea, allXmm: bitness == 64);
    }

    private void Fxrstor(ref Instruction i)
    {
        var (seg, ea) = LegacyRegion(ref i);
        uint mxcsr = (uint)Read(seg, ea + MxcsrOffset, 4);
        if ((mxcsr & ~MxcsrMask) != 0)
        {
            throw GuestFault.Gp();
        }

        LoadX87(seg, ea);
        State.Mxcsr = mxcsr;
        LoadXmm(seg, ea, allXmm: bitness == 64);
    }

    private (SegmentName Seg, ulong Ea) LegacyRegion(ref Instruction i)
    {
        var seg = SegOf(i.MemorySegment);
        ulong ea = EffectiveAddress(i);
        if ((Linear(seg, ea, LegacySize) & 15) != 0)
        {
            throw GuestFault.Gp();
        }

        return (seg, ea);
    }

    private void SaveX87(SegmentName seg, ulong ea)
    {
        Write(seg, ea + FcwOffset, 2, State.FpuControl);
        Write(seg, ea + FswOffset, 2, State.FpuStatus);
        // The abridged tag byte: one bit per physical register, 1 = not empty; the registers in stack order, ST(0) first.
        ulong abridged = 0;
        for (int r = 0; r < 8; r++)
        {
            abridged |= ((State.FpuTag >> (2 * r)) & 3) == 3 ? 0UL : 1UL << r;
        }

        Write(seg, ea + FtwOffset, 1, abridged);
        int top = (State.FpuStatus >> 11) & 7;
        for (int n = 0; n < 8; n++)
        {
            var st = State.Fpr[(top + n) & 7];
            Write(seg, ea + StOffset + (ulong)(16 * n), 8, st.Significand);
            Write(seg, ea + StOffset + 8 + (ulong)(16 * n), 8, st.SignExponent);
        }
    }

    private void LoadX87(SegmentName seg, ulong ea)
    {
        State.FpuControl = (ushort)Read(seg, ea + FcwOffset, 2);
        State.FpuStatus = (ushort)Read(seg, ea + FswOffset, 2);
        int top = (State.FpuStatus >> 11) & 7;
        ulong abridged = Read(seg, ea + FtwOffset, 1);
        ushort tag = 0;
        for (int n = 0; n < 8; n++)
        {
            var st = new Float80(Read(seg, ea + StOffset + (ulong)(16 * n), 8), (ushort)Read(seg, ea + StOffset + 8 + (ulong)(16 * n), 2));
            int r = (top + n) & 7;
            State.Fpr[r] = st;
            int t = (abridged >> r & 1) == 0 ? 3 : st.IsZero ? 1 : st.IsNaN || st.IsInfinity || st.Exponent == 0 ? 2 : 0;
            tag |= (ushort)(t << (2 * r));
        }

        State.FpuTag = tag;
    }

    /// <summary>XMM0–15 in 64-bit mode; outside it only XMM0–7 exist.</summary>
    private void SaveXmm(SegmentName seg, ulong ea, bool allXmm)
    {
        for (int n = 0; n < (allXmm ? 16 : 8); n++)
        {
            Write(seg, ea + XmmOffset + (ulong)(16 * n), 8, State.Xmm[2 * n]);
            Write(seg, ea + XmmOffset + 8 + (ulong)(16 * n), 8, State.Xmm[(2 * n) + 1]);
        }
    }

    private void LoadXmm(SegmentName seg, ulong ea, bool allXmm)
    {
        for (int n = 0; n < (allXmm ? 16 : 8); n++)
        {
            State.Xmm[2 * n] = Read(seg, ea + XmmOffset + (ulong)(16 * n), 8);
            State.Xmm[(2 * n) + 1] = Read(seg, ea + XmmOffset + 8 + (ulong)(16 * n), 8);
        }
    }
}
