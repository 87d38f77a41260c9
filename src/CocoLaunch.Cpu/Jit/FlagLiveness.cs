using Iced.Intel;

namespace CocoLaunch.Cpu.Jit;

/// <summary>
/// Which arithmetic flags are live after each instruction of a block: the compiler skips flag work nobody can
/// observe. Everything is live at the end of the block, and before anything that can fault, because the
/// exception frame captures RFLAGS. Only flags an instruction always writes kill liveness: a shift by CL may
/// write nothing (count 0), and a flag the architecture leaves undefined is treated as possibly kept.
/// </summary>
internal static class FlagLiveness
{
    public const int Arithmetic = (int)(RflagsBits.OF | RflagsBits.SF | RflagsBits.ZF | RflagsBits.AF | RflagsBits.CF | RflagsBits.PF);

    /// <param name="observesAll">Instructions that can fault or that the interpreter runs: they may see every flag.</param>
    public static int[] LiveAfter(ReadOnlySpan<Instruction> block, Func<int, bool> observesAll)
    {
        var after = new int[block.Length];
        int live = Arithmetic;
        for (int k = block.Length - 1; k >= 0; k--)
        {
            after[k] = live;
            int read = observesAll(k) ? Arithmetic : (int)block[k].RflagsRead & Arithmetic;
            live = read | (live & ~MustWrite(block[k]));
        }

        return after;
    }

    /// <summary>Flags the instruction may change (undefined ones included).</summary>
    public static int MayWrite(in Instruction i) => (int)i.RflagsModified & Arithmetic;

    private static int MustWrite(in Instruction i)
    {
        if (i.IsStringInstruction && (i.HasRepPrefix || i.HasRepePrefix || i.HasRepnePrefix))
        {
            return 0; // a count of 0 runs no iteration: REP CMPS/SCAS then leave every flag alone
        }

        int written = (int)(i.RflagsWritten | i.RflagsCleared | i.RflagsSet) & Arithmetic;
        if (i.Mnemonic is Mnemonic.Shl or Mnemonic.Sal or Mnemonic.Shr or Mnemonic.Sar or Mnemonic.Rol or Mnemonic.Ror
            or Mnemonic.Rcl or Mnemonic.Rcr or Mnemonic.Shld or Mnemonic.Shrd)
        {
            // A masked count of 0 leaves every flag alone: only a known non-zero immediate count writes.
            int countOperand = i.OpCount - 1;
            var kind = i.GetOpKind(countOperand);
            if (kind != OpKind.Immediate8 || (i.Immediate8 & (X86Cpu.OpSize(i, 0) == 8 ? 0x3F : 0x1F)) == 0)
            {
                return 0;
            }
        }

        return written;
    }
}
