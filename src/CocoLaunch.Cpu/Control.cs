using Iced.Intel;
using static CocoLaunch.Cpu.CpuState;

namespace CocoLaunch.Cpu;

/// <summary>Branches, calls, returns, software interrupts, loops, ENTER/LEAVE.</summary>
public sealed partial class X86Cpu
{
    private bool ExecuteControl(ref Instruction i)
    {
        if (i.FlowControl == FlowControl.ConditionalBranch && i.ConditionCode != ConditionCode.None)
        {
            if (Condition(i.ConditionCode))
            {
                Branch(i.NearBranchTarget);
            }

            return true;
        }

        switch (i.Mnemonic)
        {
            case Mnemonic.Jmp:
                if (i.Op0Kind is OpKind.FarBranch16 or OpKind.FarBranch32)
                {
                    LoadCs(i.FarBranchSelector, i.Op0Kind == OpKind.FarBranch16 ? i.FarBranch16 : i.FarBranch32);
                }
                else if (i.Op0Kind == OpKind.Memory && i.MemorySize is MemorySize.SegPtr16 or MemorySize.SegPtr32 or MemorySize.SegPtr64)
                {
                    var (sel, off) = ReadFarPointer(ref i);
                    LoadCs(sel, off);
                }
                else
                {
                    Branch(i.Op0Kind is OpKind.NearBranch16 or OpKind.NearBranch32 or OpKind.NearBranch64 ? i.NearBranchTarget : ReadOp(i, 0, OpSize(i, 0)));
                }

                return true;
            case Mnemonic.Call:
                Call(ref i);
                return true;
            case Mnemonic.Ret:
            {
                int s = bitness == 64 ? 8 : OperandSizeOf(ref i);
                ulong target = PopSized(s);
                if (i.OpCount == 1)
                {
                    StackPointer += i.Immediate16;
                }

                Branch(target);
                return true;
            }

            case Mnemonic.Retf:
            {
                int s = i.CodeSize == CodeSize.Code64 && i.Code == Code.Retfq ? 8 : i.Code is Code.Retfw or Code.Retfw_imm16 ? 2 : i.Code is Code.Retfq or Code.Retfq_imm16 ? 8 : 4;
                ulong off = PopSized(s);
                ushort sel = (ushort)PopSized(s);
                if (i.OpCount == 1)
                {
                    StackPointer += i.Immediate16;
                }

                LoadCs(sel, off);
                return true;
            }

            case Mnemonic.Iret or Mnemonic.Iretd or Mnemonic.Iretq:
                Iret(i.Mnemonic == Mnemonic.Iret ? 2 : i.Mnemonic == Mnemonic.Iretd ? 4 : 8);
                return true;
            case Mnemonic.Int:
                Deliver(i.Immediate8, null, State.Rip, isSoftware: true);
                return true;
            case Mnemonic.Int3:
                Deliver(Vector.Breakpoint, null, State.Rip, isSoftware: true);
                return true;
            case Mnemonic.Into:
                if (bitness == 64)
                {
                    throw GuestFault.Ud();
                }

                if ((State.Rflags & FlagOf) != 0)
                {
                    Deliver(Vector.Overflow, null, State.Rip, isSoftware: true);
                }

                return true;
            case Mnemonic.Int1:
                Deliver(Vector.Debug, null, State.Rip, isSoftware: false);
                return true;
            case Mnemonic.Ud0 or Mnemonic.Ud1 or Mnemonic.Ud2:
                throw GuestFault.Ud();
            case Mnemonic.Loop or Mnemonic.Loope or Mnemonic.Loopne:
            {
                var counter = CounterRegister(ref i);
                ulong c = (ReadReg(counter) - 1) & Mask(Registers.Size[(int)counter]);
                WriteReg(counter, c);
                bool zf = (State.Rflags & FlagZf) != 0;
                if (c != 0 && (i.Mnemonic == Mnemonic.Loop || (i.Mnemonic == Mnemonic.Loope && zf) || (i.Mnemonic == Mnemonic.Loopne && !zf)))
                {
                    Branch(i.NearBranchTarget);
                }

                return true;
            }

            case Mnemonic.Jcxz or Mnemonic.Jecxz or Mnemonic.Jrcxz:
                if (ReadReg(i.Mnemonic == Mnemonic.Jcxz ? Register.CX : i.Mnemonic == Mnemonic.Jecxz ? Register.ECX : Register.RCX) == 0)
                {
                    Branch(i.NearBranchTarget);
                }

                return true;
            case Mnemonic.Enter:
                Enter(ref i);
                return true;
            case Mnemonic.Leave:
            {
                int s = OperandSizeOf(ref i);
                StackPointer = ReadReg(StackAddressSize == 8 ? Register.RBP : StackAddressSize == 4 ? Register.EBP : Register.BP);
                ulong bp = PopSized(s);
                WriteReg(s == 8 ? Register.RBP : s == 4 ? Register.EBP : Register.BP, bp);
                return true;
            }

            default:
                return false;
        }
    }

    private void Branch(ulong target)
    {
        State.Rip = target & ipMask;
        EndBlock();
    }

    /// <summary>Operand size of a stack instruction without explicit operands (LEAVE, RET): 16/32/64 from its Code.</summary>
    private int OperandSizeOf(ref Instruction i)
    {
        int inc = i.StackPointerIncrement;
        if (inc > 0 && i.Mnemonic != Mnemonic.Ret)
        {
            return inc;
        }

        return i.Code switch
        {
            Code.Retnw or Code.Retnw_imm16 or Code.Leavew => 2,
            Code.Retnd or Code.Retnd_imm16 or Code.Leaved => 4,
            Code.Retnq or Code.Retnq_imm16 or Code.Leaveq => 8,
            _ => bitness == 64 ? 8 : bitness / 8,
        };
    }

    // LOOPcc counts in CX, ECX or RCX by address size, which only the Code says (Loop_rel8_32_CX, …).
    private static readonly Dictionary<Code, Register> LoopCounters = Enum.GetValues<Code>()
        .Where(c => c.ToString().StartsWith("Loop", StringComparison.Ordinal))
        .ToDictionary(c => c, c => c.ToString().EndsWith("_RCX", StringComparison.Ordinal) ? Register.RCX
            : c.ToString().EndsWith("_ECX", StringComparison.Ordinal) ? Register.ECX : Register.CX);

    private static Register CounterRegister(ref Instruction i) => LoopCounters[i.Code];

    private void Call(ref Instruction i)
    {
        if (i.Op0Kind is OpKind.FarBranch16 or OpKind.FarBranch32 || (i.Op0Kind == OpKind.Memory && i.MemorySize is MemorySize.SegPtr16 or MemorySize.SegPtr32 or MemorySize.SegPtr64))
        {
            ushort sel;
            ulong off;
            int s;
            if (i.Op0Kind == OpKind.Memory)
            {
                (sel, off) = ReadFarPointer(ref i);
                s = i.MemorySize == MemorySize.SegPtr16 ? 2 : i.MemorySize == MemorySize.SegPtr32 ? 4 : 8;
            }
            else
            {
                sel = i.FarBranchSelector;
                off = i.Op0Kind == OpKind.FarBranch16 ? i.FarBranch16 : i.FarBranch32;
                s = i.Op0Kind == OpKind.FarBranch16 ? 2 : 4;
            }

            PushSized(State.Cs.Selector, s);
            PushSized(State.Rip, s);
            LoadCs(sel, off);
            return;
        }

        int size = -i.StackPointerIncrement;
        ulong target = i.Op0Kind is OpKind.NearBranch16 or OpKind.NearBranch32 or OpKind.NearBranch64 ? i.NearBranchTarget : ReadOp(i, 0, size);
        PushSized(State.Rip, size);
        Branch(target);
    }

    private (ushort Selector, ulong Offset) ReadFarPointer(ref Instruction i)
    {
        int offSize = i.MemorySize switch { MemorySize.SegPtr16 => 2, MemorySize.SegPtr32 => 4, _ => 8 };
        var seg = SegOf(i.MemorySegment);
        ulong ea = EffectiveAddress(i);
        ulong off = Read(seg, ea, offSize);
        ushort sel = (ushort)Read(seg, ea + (ulong)offSize, 2);
        return (sel, off);
    }

    private void Iret(int size)
    {
        var rights = AccessRights;
        EndNmiBlocking();
        ulong rip = PopSized(size);
        ushort cs = (ushort)PopSized(size);
        ulong flags = PopSized(size);
        ulong rsp = 0;
        ushort ss = 0;
        bool popStack = size == 8 || ((State.Cr0 & Cr0Pe) != 0 && (cs & 3) > State.Cpl);
        if (popStack)
        {
            rsp = PopSized(size);
            ss = (ushort)PopSized(size);
        }

        // CF PF AF ZF SF TF DF OF NT AC ID always; IOPL, VIF and VIP at CPL 0; IF where CPL ≤ IOPL (SDM IRET). RF
        // too, but it only suppresses instruction breakpoints, which are not modelled, and clears after the next
        // instruction: it is never kept.
        int cpl = State.Cpl;
        ulong writable = 0x24_4DD5UL | (cpl == 0 ? 0x18_3000UL : 0) | (cpl <= (int)((State.Rflags >> 12) & 3) ? FlagIf : 0);
        if (size == 2)
        {
            writable &= 0xFFFF;
        }

        State.Rflags = (State.Rflags & ~writable) | (flags & writable) | 2;
        LoadCs(cs, rip, rights);
        if (popStack)
        {
            State.Gpr[4] = rsp;
            State.Ss = bitness == 64 && (ss & ~3) == 0 ? new Segment(ss, 0, 0, 0) : LoadDataDescriptor(ss, requireWritable: true);
        }
    }

    private void Enter(ref Instruction i)
    {
        int s = -i.StackPointerIncrement > 0 ? OperandSizeOf(ref i) : bitness == 64 ? 8 : bitness / 8;
        s = i.Code switch { Code.Enterw_imm16_imm8 => 2, Code.Enterd_imm16_imm8 => 4, Code.Enterq_imm16_imm8 => 8, _ => s };
        ulong allocate = i.Immediate16;
        int level = i.Immediate8_2nd & 31;
        var bpReg = StackAddressSize == 8 ? Register.RBP : StackAddressSize == 4 ? Register.EBP : Register.BP;
        PushSized(ReadReg(s == 8 ? Register.RBP : s == 4 ? Register.EBP : Register.BP), s);
        ulong frame = StackPointer;
        if (level > 0)
        {
            ulong bp = ReadReg(bpReg);
            for (int n = 1; n < level; n++)
            {
                bp -= (ulong)s;
                PushSized(Read(SegmentName.Ss, bp & Mask(StackAddressSize), s), s);
            }

            PushSized(frame, s);
        }

        WriteReg(s == 8 ? Register.RBP : s == 4 ? Register.EBP : Register.BP, frame);
        StackPointer -= allocate;
    }
}
