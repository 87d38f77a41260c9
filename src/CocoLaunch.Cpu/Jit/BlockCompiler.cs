using System.Diagnostics.CodeAnalysis;
using System.Reflection.Emit;
using Iced.Intel;
using FlowControl = Iced.Intel.FlowControl;

namespace CocoLaunch.Cpu.Jit;

/// <summary>
/// Compiles a hot decoded block to a DynamicMethod, so the .NET JIT turns it into native code (cpu-emulator.md
/// §1.5). The common integer instructions gcc emits are compiled to IL with their operands, widths and
/// addresses fixed; everything else calls the interpreter for that one instruction, so a block always
/// compiles and both paths share one definition of the rarer instructions. The compiled method returns the
/// number of instructions retired and leaves RIP where the interpreter would.
/// Only reached where <see cref="System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported"/> (X86Cpu.CompiledFor):
/// under NativeAOT every block is interpreted, and the AOT compiler leaves this class out.
/// </summary>
[RequiresDynamicCode("Emits a DynamicMethod per block; callers check RuntimeFeature.IsDynamicCodeSupported and interpret otherwise.")]
internal sealed partial class BlockCompiler
{
    private readonly Block block;
    private readonly ILGenerator il;
    private readonly ulong ipMask;
    private readonly LocalBuilder state, gpr, ea, fa, fb, fr, value, count, flags;

    // The last instruction that wrote flags, when it was compiled here and its operands are still in fa/fb/fr:
    // a Jcc, SETcc or CMOVcc after it tests them directly instead of computing RFLAGS.
    private FlagOp producer;
    private int producerSize;
    private bool producerPlain;

    private BlockCompiler(Block block, ILGenerator il)
    {
        this.block = block;
        this.il = il;
        ipMask = block.Bitness == 64 ? ulong.MaxValue : block.Bitness == 32 ? 0xFFFF_FFFF : 0xFFFF;
        state = il.DeclareLocal(typeof(CpuState));
        gpr = il.DeclareLocal(typeof(ulong).MakeByRefType());
        ea = il.DeclareLocal(typeof(ulong));
        fa = il.DeclareLocal(typeof(ulong));
        fb = il.DeclareLocal(typeof(ulong));
        fr = il.DeclareLocal(typeof(ulong));
        value = il.DeclareLocal(typeof(ulong));
        count = il.DeclareLocal(typeof(int));
        flags = il.DeclareLocal(typeof(ulong));
    }

    public static Func<X86Cpu, int> Compile(Block block)
    {
        var method = new DynamicMethod($"block_{block.Linear:x}_{block.Bitness}", typeof(int), [typeof(Block), typeof(X86Cpu)], typeof(X86Cpu).Module, skipVisibility: true);
        new BlockCompiler(block, method.GetILGenerator()).EmitBlock();
        return method.CreateDelegate<Func<X86Cpu, int>>(block);
    }

    /// <summary>
    /// Compiles <paramref name="block"/> and has RyuJIT make its native code now, on this thread: a DynamicMethod is
    /// only jitted when first called, and its prologue returns at once for a null CPU so that call does nothing.
    /// </summary>
    public static Func<X86Cpu, int> CompileNative(Block block)
    {
        var code = Compile(block);
        code(null!);
        return code;
    }

    private void EmitBlock()
    {
        // A null CPU is CompileNative's call to get the native code made: return before touching anything.
        var run = il.DefineLabel();
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Brtrue, run);
        il.Emit(OpCodes.Ldc_I4_M1);
        il.Emit(OpCodes.Ret);
        il.MarkLabel(run);

        var instructions = block.Instructions.AsSpan(0, block.Count);
        var plans = PlanBlock(instructions, block.Bitness, out int[] liveAfter);
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Call, GetState);
        il.Emit(OpCodes.Stloc, state);
        il.Emit(OpCodes.Ldloc, state);
        il.Emit(OpCodes.Ldfld, GprField);
        il.Emit(OpCodes.Call, ArrayData);
        il.Emit(OpCodes.Stloc, gpr);
        if (AccessesMemory(plans, instructions))
        {
            LoadTlb();
        }

        LoadRegisters(instructions, plans);

        if (Array.Exists(plans, p => p is InstructionPlan.Sse or InstructionPlan.SseChecked))
        {
            LoadXmmBase();
        }

        bool ended = false;
        for (int k = 0; k < instructions.Length; k++)
        {
            ref readonly var i = ref instructions[k];
            if (CanFault(plans[k], i))
            {
                // A fault leaves the block as an exception: the state must already hold every register.
                WriteBackRegisters(onPath: true);
                il.Emit(OpCodes.Ldarg_1);
                Const(i.IP);
                il.Emit(OpCodes.Stfld, InstructionRipField);
                il.Emit(OpCodes.Ldarg_1);
                Const(k);
                il.Emit(OpCodes.Stfld, JitIndexField);
            }

            bool flagsLive = (liveAfter[k] & FlagLiveness.MayWrite(i)) != 0;
            ended = EmitInstruction(plans[k], i, k, flagsLive);
            if (plans[k] == InstructionPlan.Interpret || (FlagLiveness.MayWrite(i) != 0 && !IsProducer(plans[k])))
            {
                producer = FlagOp.None;
            }
        }

        if (!ended)
        {
            WriteBackRegisters(onPath: false);
            StoreRip(instructions[^1].NextIP);
            Const(instructions.Length);
            il.Emit(OpCodes.Ret);
        }
    }

    private static bool AccessesMemory(InstructionPlan[] plans, ReadOnlySpan<Instruction> instructions)
    {
        for (int k = 0; k < plans.Length; k++)
        {
            if (plans[k] is InstructionPlan.Push or InstructionPlan.Pop or InstructionPlan.Call or InstructionPlan.Ret
                || (plans[k] is not (InstructionPlan.Interpret or InstructionPlan.Nop or InstructionPlan.Lea) && HasMemoryOperand(instructions[k])))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsProducer(InstructionPlan p) => p is InstructionPlan.Alu or InstructionPlan.IncDec or InstructionPlan.Neg;

    /// <summary>
    /// How each instruction is compiled. SHL/SHR/SAR compute their result inline and leave their flags pending where
    /// they are live; rotates and IMUL compute their result inline where their flags are dead, and call the
    /// interpreter's arithmetic for result and flags where they are live.
    /// </summary>
    internal static InstructionPlan[] PlanBlock(ReadOnlySpan<Instruction> instructions, int bitness, out int[] liveAfter)
    {
        var plans = new InstructionPlan[instructions.Length];
        for (int k = 0; k < plans.Length; k++)
        {
            plans[k] = Classify(instructions[k], bitness);
            if (plans[k] == InstructionPlan.Shift && instructions[k].Mnemonic is Mnemonic.Rcl or Mnemonic.Rcr)
            {
                plans[k] = InstructionPlan.ShiftFlags; // they read CF
            }
        }

        PlanSseChecks(plans);

        // Interpreting an instruction makes every flag live before it, which can make another one's flags
        // live: repeat until nothing changes (each round only turns plans into Interpret).
        while (true)
        {
            var p = plans;
            var insns = instructions.ToArray();
            // A shift with live flags reads RFLAGS (ROL/ROR keep SF/ZF/PF, RCL/RCR read CF): every flag is live before it.
            liveAfter = FlagLiveness.LiveAfter(instructions, k => p[k] is InstructionPlan.Interpret or InstructionPlan.ShiftFlags || CanFault(p[k], insns[k]));
            bool changed = false;
            for (int k = 0; k < plans.Length; k++)
            {
                // SHL/SHR/SAR leave their flags pending, as ADD does; rotates keep SF/ZF/PF and so read RFLAGS.
                bool lazy = plans[k] == InstructionPlan.Shift && X86Cpu.LazyShift(instructions[k].Mnemonic) is not null;
                if (!lazy && plans[k] is InstructionPlan.Shift or InstructionPlan.Imul && (liveAfter[k] & FlagLiveness.MayWrite(instructions[k])) != 0)
                {
                    plans[k] = plans[k] == InstructionPlan.Shift ? InstructionPlan.ShiftFlags : InstructionPlan.ImulFlags;
                    changed = true;
                }
            }

            if (!changed)
            {
                return plans;
            }
        }
    }

    private static bool CanFault(InstructionPlan plan, in Instruction i) => plan switch
    {
        InstructionPlan.Interpret or InstructionPlan.Push or InstructionPlan.Pop or InstructionPlan.Call or InstructionPlan.Ret or InstructionPlan.String
            or InstructionPlan.SseChecked => true,
        InstructionPlan.Lea or InstructionPlan.Nop => false,
        InstructionPlan.MulDiv when i.Mnemonic is Mnemonic.Div or Mnemonic.Idiv => true,
        _ => HasMemoryOperand(i),
    };

    private static bool HasMemoryOperand(in Instruction i)
    {
        for (int n = 0; n < i.OpCount; n++)
        {
            if (i.GetOpKind(n) == OpKind.Memory)
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsGprOrMemoryOrImmediate(in Instruction i)
    {
        for (int n = 0; n < i.OpCount; n++)
        {
            var kind = i.GetOpKind(n);
            if (kind == OpKind.Register ? Registers.Index[(int)i.GetOpRegister(n)] < 0 : kind is not (OpKind.Memory or OpKind.Immediate8
                or OpKind.Immediate8_2nd or OpKind.Immediate16 or OpKind.Immediate32 or OpKind.Immediate64 or OpKind.Immediate8to16
                or OpKind.Immediate8to32 or OpKind.Immediate8to64 or OpKind.Immediate32to64))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>What the compiler does with one instruction.</summary>
internal enum InstructionPlan : byte
{
    Interpret,
    Nop,
    Mov,
    Movzx,
    Movsx,
    Lea,
    Alu,
    IncDec,
    Neg,
    Not,
    Jcc,
    Jmp,
    Call,
    Ret,
    Push,
    Pop,
    Setcc,
    Cmovcc,
    Shift,
    Imul,

    /// <summary>A shift or IMUL whose flags are read later: the interpreter's arithmetic, called from compiled code.</summary>
    ShiftFlags,
    ImulFlags,
    SignExtendAccumulator,

    /// <summary>One-operand MUL/IMUL and DIV/IDIV: the operand inline, the arithmetic in the interpreter's helper.</summary>
    MulDiv,

    /// <summary>BT/BTS/BTR/BTC inline; BSF/BSR/TZCNT/LZCNT/POPCNT through the interpreter's BitScanValue.</summary>
    BitTest,
    BitScan,

    /// <summary>MOVS/STOS/LODS/CMPS/SCAS, with or without REP: the string executor called directly.</summary>
    String,

    /// <summary>An SSE/SSE2 form (BlockCompiler.Sse.cs); SseChecked first tests that CR0 and CR4 allow SSE.</summary>
    Sse,
    SseChecked,
}
