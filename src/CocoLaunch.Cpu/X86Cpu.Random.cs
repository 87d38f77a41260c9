using Iced.Intel;
using static CocoLaunch.Cpu.CpuState;

namespace CocoLaunch.Cpu;

/// <summary>
/// RDRAND and RDSEED from a deterministic generator: a run repeats exactly, as the TSC does (one tick per
/// instruction). Never a source of secrets: a guest that needs entropy must get it from the platform.
/// </summary>
public sealed partial class X86Cpu
{
    private ulong randomState;

    /// <summary>Starts this CPU's RDRAND/RDSEED sequence; give each vCPU its own seed (its index will do).</summary>
    public ulong RandomSeed
    {
        set => randomState = value;
    }

    private bool ExecuteRandom(ref Instruction i)
    {
        if (i.Mnemonic is not (Mnemonic.Rdrand or Mnemonic.Rdseed))
        {
            return false;
        }

        // The generator never runs dry: CF = 1 and OF, SF, ZF, AF, PF cleared (SDM RDRAND, RDSEED).
        WriteReg(i.Op0Register, NextRandom());
        State.Rflags = (State.Rflags & ~ArithmeticFlags) | FlagCf;
        return true;
    }

    /// <summary>SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014).</summary>
    private ulong NextRandom()
    {
        ulong z = randomState += 0x9E37_79B9_7F4A_7C15;
        z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9;
        z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EB;
        return z ^ (z >> 31);
    }
}
