using System.Reflection.Emit;
using Iced.Intel;

namespace CocoLaunch.Cpu.Jit;

/// <summary>
/// Guest registers in IL locals within a block, so RyuJIT can keep them in host registers. The block loads the
/// registers its compiled instructions use on entry and writes back the ones it changed wherever the state can be
/// observed: before an instruction that can fault (the fault leaves the block as an exception), before the
/// interpreter or a helper that reads the state, and at every exit. A register a compiled instruction does not
/// name (the interpreter's alone) stays in <see cref="CpuState.Gpr"/> only.
/// </summary>
internal sealed partial class BlockCompiler
{
    private const int GprCount = 16;

    private readonly LocalBuilder?[] registers = new LocalBuilder?[GprCount];

    // Registers written since the last write-back on the block's straight-line path, as far as the compiler
    // knows: writing back one that did not change is harmless, so a path that skips a write still flushes it.
    private int dirty;

    /// <summary>Declares a local for every general register the compiled instructions of the block use, and loads them.</summary>
    private void LoadRegisters(ReadOnlySpan<Instruction> instructions, InstructionPlan[] plans)
    {
        var factory = new InstructionInfoFactory();
        int used = 0;
        for (int k = 0; k < instructions.Length; k++)
        {
            if (plans[k] == InstructionPlan.Interpret)
            {
                continue;
            }

            foreach (var use in factory.GetInfo(instructions[k]).GetUsedRegisters())
            {
                int index = Registers.Index[(int)use.Register];
                if (index is >= 0 and < GprCount)
                {
                    used |= 1 << index;
                }
            }
        }

        for (int r = 0; r < GprCount; r++)
        {
            if ((used & (1 << r)) != 0)
            {
                registers[r] = il.DeclareLocal(typeof(ulong));
                SlotAddress(r);
                il.Emit(OpCodes.Ldind_I8);
                il.Emit(OpCodes.Stloc, registers[r]!);
            }
        }
    }

    private void SlotAddress(int index)
    {
        il.Emit(OpCodes.Ldloc, gpr);
        if (index != 0)
        {
            Const(index * 8);
            il.Emit(OpCodes.Add);
        }
    }

    /// <summary>
    /// Writes the changed registers back to the state. <paramref name="onPath"/>: this code runs on every path through
    /// the block from here (not only on one exit), so nothing is dirty after it.
    /// </summary>
    private void WriteBackRegisters(bool onPath)
    {
        for (int r = 0; r < GprCount; r++)
        {
            if ((dirty & (1 << r)) != 0)
            {
                SlotAddress(r);
                il.Emit(OpCodes.Ldloc, registers[r]!);
                il.Emit(OpCodes.Stind_I8);
            }
        }

        if (onPath)
        {
            dirty = 0;
        }
    }

    /// <summary>Reloads the register locals after the interpreter or a helper changed the state.</summary>
    private void ReloadRegisters(int mask = -1)
    {
        for (int r = 0; r < GprCount; r++)
        {
            if (registers[r] is { } local && (mask & (1 << r)) != 0)
            {
                SlotAddress(r);
                il.Emit(OpCodes.Ldind_I8);
                il.Emit(OpCodes.Stloc, local);
            }
        }
    }

    private void LoadRegister(Register r)
    {
        int index = Registers.Index[(int)r];
        if (registers[index] is not { } local)
        {
            LoadRegisterSlot(r);
            return;
        }

        il.Emit(OpCodes.Ldloc, local);
        if (Registers.High8[(int)r])
        {
            Const(8);
            il.Emit(OpCodes.Shr_Un);
        }

        Truncate(Registers.Size[(int)r]);
    }

    /// <summary>Writes <paramref name="value"/> as the interpreter's WriteReg does: a 32-bit write zero-extends, 8/16-bit writes merge.</summary>
    private void StoreRegister(Register r, LocalBuilder value)
    {
        int index = Registers.Index[(int)r];
        if (registers[index] is not { } local)
        {
            StoreRegisterSlot(r, value);
            return;
        }

        int size = Registers.Size[(int)r];
        if (size >= 4)
        {
            il.Emit(OpCodes.Ldloc, value);
            Truncate(size);
        }
        else
        {
            // Merge: keep every bit outside the written byte or word.
            int shift = Registers.High8[(int)r] ? 8 : 0;
            ulong field = (size == 1 ? 0xFFUL : 0xFFFFUL) << shift;
            il.Emit(OpCodes.Ldloc, local);
            Const(~field);
            il.Emit(OpCodes.And);
            il.Emit(OpCodes.Ldloc, value);
            if (shift != 0)
            {
                Const(shift);
                il.Emit(OpCodes.Shl);
            }

            Const(field);
            il.Emit(OpCodes.And);
            il.Emit(OpCodes.Or);
        }

        il.Emit(OpCodes.Stloc, local);
        dirty |= 1 << index;
    }
}
