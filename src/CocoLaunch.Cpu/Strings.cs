using Iced.Intel;
using static CocoLaunch.Cpu.CpuState;

namespace CocoLaunch.Cpu;

/// <summary>String instructions with REP/REPE/REPNE, and port string I/O (one transfer per exit).</summary>
public sealed unsafe partial class X86Cpu
{
    private bool ExecuteString(ref Instruction i)
    {
        if (!i.IsStringInstruction)
        {
            return false;
        }

        int size = StringElementSize(i.Mnemonic);
        int addressSize = AddressSizeOfString(ref i);
        var counter = addressSize == 8 ? Register.RCX : addressSize == 4 ? Register.ECX : Register.CX;
        var si = addressSize == 8 ? Register.RSI : addressSize == 4 ? Register.ESI : Register.SI;
        var di = addressSize == 8 ? Register.RDI : addressSize == 4 ? Register.EDI : Register.DI;
        bool rep = i.HasRepPrefix || i.HasRepePrefix || i.HasRepnePrefix;
        ulong delta = (State.Rflags & FlagDf) != 0 ? unchecked((ulong)-size) : (ulong)size;
        ulong am = Mask(addressSize);
        var srcSeg = i.Op1Kind is OpKind.MemorySegSI or OpKind.MemorySegESI or OpKind.MemorySegRSI ? SegOf(i.MemorySegment)
            : i.Op0Kind is OpKind.MemorySegSI or OpKind.MemorySegESI or OpKind.MemorySegRSI ? SegOf(i.MemorySegment) : SegmentName.Ds;
        bool bulk = rep && addressSize == 8 && bitness == 64 && delta == (ulong)size && srcSeg is not (SegmentName.Fs or SegmentName.Gs)
            && i.Mnemonic is Mnemonic.Stosb or Mnemonic.Stosw or Mnemonic.Stosd or Mnemonic.Stosq or Mnemonic.Movsb or Mnemonic.Movsw
                or Mnemonic.Movsd or Mnemonic.Movsq;
        while (true)
        {
            if (rep && ReadReg(counter) == 0)
            {
                return true;
            }

            if (bulk && BulkStringRun(i.Mnemonic is Mnemonic.Stosb or Mnemonic.Stosw or Mnemonic.Stosd or Mnemonic.Stosq, size, ReadReg(counter)) is var done and > 0)
            {
                WriteReg(di, ReadReg(di) + (done * (ulong)size));
                if (i.Mnemonic is not (Mnemonic.Stosb or Mnemonic.Stosw or Mnemonic.Stosd or Mnemonic.Stosq))
                {
                    WriteReg(si, ReadReg(si) + (done * (ulong)size));
                }

                WriteReg(counter, ReadReg(counter) - done);
                continue;
            }

            bool stop = false;
            switch (i.Mnemonic)
            {
                case Mnemonic.Movsb or Mnemonic.Movsw or Mnemonic.Movsd or Mnemonic.Movsq:
                    Write(SegmentName.Es, ReadReg(di), size, Read(srcSeg, ReadReg(si), size));
                    WriteReg(si, (ReadReg(si) + delta) & am);
                    WriteReg(di, (ReadReg(di) + delta) & am);
                    break;
                case Mnemonic.Stosb or Mnemonic.Stosw or Mnemonic.Stosd or Mnemonic.Stosq:
                    Write(SegmentName.Es, ReadReg(di), size, State.Gpr[0] & Mask(size));
                    WriteReg(di, (ReadReg(di) + delta) & am);
                    break;
                case Mnemonic.Lodsb or Mnemonic.Lodsw or Mnemonic.Lodsd or Mnemonic.Lodsq:
                    WriteReg(Accumulator(size), Read(srcSeg, ReadReg(si), size));
                    WriteReg(si, (ReadReg(si) + delta) & am);
                    break;
                case Mnemonic.Cmpsb or Mnemonic.Cmpsw or Mnemonic.Cmpsd or Mnemonic.Cmpsq:
                    Sub(Read(srcSeg, ReadReg(si), size), Read(SegmentName.Es, ReadReg(di), size), 0, size);
                    WriteReg(si, (ReadReg(si) + delta) & am);
                    WriteReg(di, (ReadReg(di) + delta) & am);
                    stop = true;
                    break;
                case Mnemonic.Scasb or Mnemonic.Scasw or Mnemonic.Scasd or Mnemonic.Scasq:
                    Sub(State.Gpr[0] & Mask(size), Read(SegmentName.Es, ReadReg(di), size), 0, size);
                    WriteReg(di, (ReadReg(di) + delta) & am);
                    stop = true;
                    break;
                case Mnemonic.Outsb or Mnemonic.Outsw or Mnemonic.Outsd:
                {
                    ulong value = Read(srcSeg, ReadReg(si), size);
                    WriteReg(si, (ReadReg(si) + delta) & am);
                    CountAndMaybeRestart(rep, counter, am);
                    Exit(new CpuExit.PortOut((ushort)State.Gpr[2], size, (uint)value));
                    return true;
                }

                case Mnemonic.Insb or Mnemonic.Insw or Mnemonic.Insd:
                    // The destination must be writable before the port is read, as on hardware.
                    Linear(SegmentName.Es, ReadReg(di), size);
                    pendingIns = (rep, counter, di, delta, am, size, instructionRip);
                    Exit(new CpuExit.PortIn((ushort)State.Gpr[2], size));
                    return true;
                default:
                    return false;
            }

            if (!rep)
            {
                return true;
            }

            WriteReg(counter, (ReadReg(counter) - 1) & am);
            if (stop && (i.HasRepePrefix ? (State.Rflags & FlagZf) == 0 : i.HasRepnePrefix && (State.Rflags & FlagZf) != 0))
            {
                return true;
            }

        }
    }

    /// <summary>
    /// REP STOS or REP MOVS (64-bit addresses, DF clear) over the elements that lie in the current destination (and
    /// source) page, when the TLB already holds those pages for this access: a fill or a copy instead of an access
    /// per element. A TLB hit means RAM without decoded code, so nothing per element is skipped. Returns the elements
    /// done, or 0 to take one element the ordinary way (a miss, an element across a page, a copy whose destination
    /// overlaps its source ahead of it).
    /// </summary>
    private unsafe ulong BulkStringRun(bool store, int size, ulong count)
    {
        ulong dst = State.Gpr[7];
        byte* d = Fast(dst, size, Access.Write);
        if (d == null)
        {
            return 0;
        }

        ulong room = (4096 - (dst & 0xFFF)) / (ulong)size;
        if (store)
        {
            ulong n = Math.Min(count, room);
            ulong value = State.Gpr[0];
            if (size == 1)
            {
                new Span<byte>(d, (int)n).Fill((byte)value);
            }
            else
            {
                for (ulong k = 0; k < n; k++)
                {
                    System.Buffer.MemoryCopy(&value, d + (k * (ulong)size), size, size);
                }
            }

            return n;
        }

        ulong src = State.Gpr[6];
        byte* s = Fast(src, size, Access.Read);
        if (s == null)
        {
            return 0;
        }

        ulong elements = Math.Min(count, Math.Min(room, (4096 - (src & 0xFFF)) / (ulong)size));
        ulong bytes = elements * (ulong)size;
        if (d > s && d < s + bytes)
        {
            return 0; // element by element, the copy repeats what it has just written
        }

        System.Buffer.MemoryCopy(s, d, (long)bytes, (long)bytes);
        return elements;
    }

    private (bool Rep, Register Counter, Register Di, ulong Delta, ulong AddressMask, int Size, ulong Rip)? pendingIns;

    /// <summary>One port-string transfer done: decrement the count and, if more remain, run the instruction again.</summary>
    private void CountAndMaybeRestart(bool rep, Register counter, ulong am)
    {
        if (!rep)
        {
            return;
        }

        ulong c = (ReadReg(counter) - 1) & am;
        WriteReg(counter, c);
        if (c != 0)
        {
            State.Rip = instructionRip;
        }
    }

    private void CompletePortInCore(CpuExit.PortIn exit, uint value)
    {
        if (pendingIns is { } ins)
        {
            pendingIns = null;
            int bits = bitness;
            bitness = State.Bitness;
            Write(SegmentName.Es, ReadReg(ins.Di), ins.Size, value & (uint)Mask(ins.Size));
            WriteReg(ins.Di, (ReadReg(ins.Di) + ins.Delta) & ins.AddressMask);
            instructionRip = ins.Rip; // a REP INS with elements left runs again from itself, not from the next instruction
            CountAndMaybeRestart(ins.Rep, ins.Counter, ins.AddressMask);
            bitness = bits;
            return;
        }

        WriteReg(Accumulator(exit.Size), value);
    }

    private static Register Accumulator(int size) => size switch { 1 => Register.AL, 2 => Register.AX, 4 => Register.EAX, _ => Register.RAX };

    private static int StringElementSize(Mnemonic m) => m switch
    {
        Mnemonic.Movsb or Mnemonic.Stosb or Mnemonic.Lodsb or Mnemonic.Cmpsb or Mnemonic.Scasb or Mnemonic.Insb or Mnemonic.Outsb => 1,
        Mnemonic.Movsw or Mnemonic.Stosw or Mnemonic.Lodsw or Mnemonic.Cmpsw or Mnemonic.Scasw or Mnemonic.Insw or Mnemonic.Outsw => 2,
        Mnemonic.Movsq or Mnemonic.Stosq or Mnemonic.Lodsq or Mnemonic.Cmpsq or Mnemonic.Scasq => 8,
        _ => 4,
    };

    private static int AddressSizeOfString(ref Instruction i)
    {
        for (int n = 0; n < i.OpCount; n++)
        {
            switch (i.GetOpKind(n))
            {
                case OpKind.MemorySegSI or OpKind.MemoryESDI or OpKind.MemorySegDI:
                    return 2;
                case OpKind.MemorySegESI or OpKind.MemoryESEDI or OpKind.MemorySegEDI:
                    return 4;
                case OpKind.MemorySegRSI or OpKind.MemoryESRDI or OpKind.MemorySegRDI:
                    return 8;
            }
        }

        return 8;
    }
}
