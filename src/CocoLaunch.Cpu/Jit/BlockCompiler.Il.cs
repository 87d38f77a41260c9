using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.InteropServices;
using Iced.Intel;

namespace CocoLaunch.Cpu.Jit;

/// <summary>
/// IL building blocks. Every guest value is a uint64 on the IL stack. Guest registers live in locals within a
/// block (BlockCompiler.Registers.cs); their slots in <see cref="CpuState.Gpr"/> are reached through a byref,
/// where narrow registers are the low bytes (little-endian), AH–BH the byte after.
/// </summary>
internal sealed partial class BlockCompiler
{
    private const BindingFlags Any = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance;

    private static readonly MethodInfo GetState = typeof(X86Cpu).GetProperty(nameof(X86Cpu.State))!.GetMethod!;
    private static readonly FieldInfo GprField = typeof(CpuState).GetField(nameof(CpuState.Gpr))!;
    private static readonly FieldInfo RipField = typeof(CpuState).GetField(nameof(CpuState.Rip))!;
    private static readonly FieldInfo PendingOpField = typeof(CpuState).GetField(nameof(CpuState.PendingOp), Any)!;
    private static readonly FieldInfo PendingAField = typeof(CpuState).GetField(nameof(CpuState.PendingA), Any)!;
    private static readonly FieldInfo PendingBField = typeof(CpuState).GetField(nameof(CpuState.PendingB), Any)!;
    private static readonly FieldInfo PendingResultField = typeof(CpuState).GetField(nameof(CpuState.PendingResult), Any)!;
    private static readonly FieldInfo PendingSizeField = typeof(CpuState).GetField(nameof(CpuState.PendingSize), Any)!;
    private static readonly MethodInfo CarryFlag = typeof(CpuState).GetProperty(nameof(CpuState.CarryFlag), Any)!.GetMethod!;
    private static readonly FieldInfo InstructionRipField = typeof(X86Cpu).GetField("instructionRip", Any)!;
    private static readonly FieldInfo JitIndexField = typeof(X86Cpu).GetField("jitIndex", Any)!;
    private static readonly MethodInfo Interpret = typeof(X86Cpu).GetMethod(nameof(X86Cpu.JitInterpret), Any)!;
    private static readonly MethodInfo WriteStops = typeof(X86Cpu).GetProperty(nameof(X86Cpu.JitWriteStops), Any)!.GetMethod!;
    private static readonly MethodInfo ShiftValue = typeof(X86Cpu).GetMethod(nameof(X86Cpu.ShiftValue), Any)!;
    private static readonly MethodInfo ImulValue = typeof(X86Cpu).GetMethod(nameof(X86Cpu.ImulValue), Any)!;
    private static readonly MethodInfo MultiplyAccumulator = typeof(X86Cpu).GetMethod(nameof(X86Cpu.MultiplyAccumulator), Any)!;
    private static readonly MethodInfo StringInstruction = typeof(X86Cpu).GetMethod("ExecuteString", Any)!;
    private static readonly MethodInfo BitScanValue = typeof(X86Cpu).GetMethod(nameof(X86Cpu.BitScanValue), Any)!;
    private static readonly MethodInfo SetCarry = typeof(X86Cpu).GetMethod(nameof(X86Cpu.SetCarry), Any)!;
    private static readonly MethodInfo DivideAccumulator = typeof(X86Cpu).GetMethod(nameof(X86Cpu.DivideAccumulator), Any)!;
    private static readonly MethodInfo SetRflags = typeof(CpuState).GetProperty(nameof(CpuState.Rflags))!.SetMethod!;
    private static readonly MethodInfo GetRflags = typeof(CpuState).GetProperty(nameof(CpuState.Rflags))!.GetMethod!;
    private static readonly MethodInfo Condition = typeof(X86Cpu).GetMethod(nameof(X86Cpu.JitCondition), Any)!;
    private static readonly MethodInfo GetInstructions = typeof(Block).GetProperty(nameof(Block.Instructions))!.GetMethod!;
    // Taken from a delegate rather than by MakeGenericMethod, which the trimming and AOT analyzers cannot follow.
    private static readonly MethodInfo ArrayData = new ArrayDataOf(MemoryMarshal.GetArrayDataReference<ulong>).Method;

    private delegate ref ulong ArrayDataOf(ulong[] array);

    private static readonly MethodInfo[] Reads = [.. new[] { 1, 2, 4, 8 }.Select(n => typeof(X86Cpu).GetMethod("JitRead" + n, Any)!)];
    private static readonly MethodInfo[] Writes = [.. new[] { 1, 2, 4, 8 }.Select(n => typeof(X86Cpu).GetMethod("JitWrite" + n, Any)!)];

    private static int SizeIndex(int size) => size switch { 1 => 0, 2 => 1, 4 => 2, _ => 3 };

    private void Const(ulong value) => il.Emit(OpCodes.Ldc_I8, (long)value);

    private void Const(int value) => il.Emit(OpCodes.Ldc_I4, value);

    /// <summary>Truncates the uint64 on the stack to <paramref name="size"/> bytes, zero-extended.</summary>
    private void Truncate(int size)
    {
        switch (size)
        {
            case 1: il.Emit(OpCodes.Conv_U1); il.Emit(OpCodes.Conv_U8); break;
            case 2: il.Emit(OpCodes.Conv_U2); il.Emit(OpCodes.Conv_U8); break;
            case 4: il.Emit(OpCodes.Conv_U4); il.Emit(OpCodes.Conv_U8); break;
        }
    }

    /// <summary>Sign-extends the low <paramref name="size"/> bytes of the uint64 on the stack to 64 bits.</summary>
    private void SignExtend(int size)
    {
        switch (size)
        {
            case 1: il.Emit(OpCodes.Conv_I1); il.Emit(OpCodes.Conv_I8); break;
            case 2: il.Emit(OpCodes.Conv_I2); il.Emit(OpCodes.Conv_I8); break;
            case 4: il.Emit(OpCodes.Conv_I4); il.Emit(OpCodes.Conv_I8); break;
        }
    }

    private void Not() // int 0/1 on the stack
    {
        il.Emit(OpCodes.Ldc_I4_0);
        il.Emit(OpCodes.Ceq);
    }

    private void RegisterAddress(Register r)
    {
        int offset = (Registers.Index[(int)r] * 8) + (Registers.High8[(int)r] ? 1 : 0);
        il.Emit(OpCodes.Ldloc, gpr);
        if (offset != 0)
        {
            Const(offset);
            il.Emit(OpCodes.Add);
        }
    }

    /// <summary>A register without a local in this block, read in place.</summary>
    private void LoadRegisterSlot(Register r)
    {
        RegisterAddress(r);
        switch (Registers.Size[(int)r])
        {
            case 1: il.Emit(OpCodes.Ldind_U1); il.Emit(OpCodes.Conv_U8); break;
            case 2: il.Emit(OpCodes.Ldind_U2); il.Emit(OpCodes.Conv_U8); break;
            case 4: il.Emit(OpCodes.Ldind_U4); il.Emit(OpCodes.Conv_U8); break;
            default: il.Emit(OpCodes.Ldind_I8); break;
        }
    }

    /// <summary>A register without a local in this block, written in place as the interpreter's WriteReg does.</summary>
    private void StoreRegisterSlot(Register r, LocalBuilder value)
    {
        RegisterAddress(r);
        il.Emit(OpCodes.Ldloc, value);
        switch (Registers.Size[(int)r])
        {
            case 1: il.Emit(OpCodes.Stind_I1); break;
            case 2: il.Emit(OpCodes.Stind_I2); break;
            case 4: il.Emit(OpCodes.Conv_U4); il.Emit(OpCodes.Conv_U8); il.Emit(OpCodes.Stind_I8); break;
            default: il.Emit(OpCodes.Stind_I8); break;
        }
    }

    /// <summary>The memory operand's offset into <see cref="ea"/>, computed as X86Cpu.EffectiveAddress does.</summary>
    private void EffectiveAddress(in Instruction i)
    {
        var b = i.MemoryBase;
        if (b is Register.RIP or Register.EIP)
        {
            Const(b == Register.EIP ? i.MemoryDisplacement64 & 0xFFFF_FFFF : i.MemoryDisplacement64);
            il.Emit(OpCodes.Stloc, ea);
            return;
        }

        Const(i.MemoryDisplacement64);
        int addressSize = 0;
        if (b != Register.None)
        {
            LoadRegister(b);
            il.Emit(OpCodes.Add);
            addressSize = Registers.Size[(int)b];
        }

        var x = i.MemoryIndex;
        if (x != Register.None)
        {
            LoadRegister(x);
            if (i.MemoryIndexScale > 1)
            {
                Const(System.Numerics.BitOperations.Log2((uint)i.MemoryIndexScale));
                il.Emit(OpCodes.Shl);
            }

            il.Emit(OpCodes.Add);
            addressSize = Registers.Size[(int)x];
        }

        if (addressSize == 0)
        {
            addressSize = i.MemoryDisplSize is 2 or 4 ? i.MemoryDisplSize : block.Bitness / 8;
        }

        Truncate(addressSize);
        il.Emit(OpCodes.Stloc, ea);
    }

    private void ReadMemory(SegmentName seg, int size)
    {
        var miss = il.DefineLabel();
        var done = il.DefineLabel();
        bool inline = InlineTlb(seg);
        if (inline)
        {
            EmitTlbHit(write: false, size, miss);
            LoadHost(size);
            il.Emit(OpCodes.Br, done);
            il.MarkLabel(miss);
        }

        il.Emit(OpCodes.Ldarg_1);
        Const((int)seg);
        il.Emit(OpCodes.Ldloc, ea);
        il.Emit(OpCodes.Call, Reads[SizeIndex(size)]);
        if (inline)
        {
            il.MarkLabel(done);
        }
    }

    /// <summary>Writes <paramref name="value"/> at <see cref="ea"/>; stops the block after the instruction if the write reached MMIO or code.</summary>
    private void WriteMemory(SegmentName seg, int size, LocalBuilder value, int k, in Instruction i)
    {
        // A hit is RAM without decoded code: nothing can make the block stop.
        var go = il.DefineLabel();
        if (InlineTlb(seg))
        {
            var miss = il.DefineLabel();
            EmitTlbHit(write: true, size, miss);
            StoreHost(size, value);
            il.Emit(OpCodes.Br, go);
            il.MarkLabel(miss);
        }

        il.Emit(OpCodes.Ldarg_1);
        Const((int)seg);
        il.Emit(OpCodes.Ldloc, ea);
        il.Emit(OpCodes.Ldloc, value);
        il.Emit(OpCodes.Call, Writes[SizeIndex(size)]);
        ExitIfWriteStops(k, i);
        il.MarkLabel(go);
    }

    /// <summary>After a write through the CPU: leaves the block if it reached MMIO or a page with decoded code.</summary>
    private void ExitIfWriteStops(int k, in Instruction i)
    {
        var go = il.DefineLabel();
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Call, WriteStops);
        il.Emit(OpCodes.Brfalse, go);
        ExitAfter(k, i.NextIP);
        il.MarkLabel(go);
    }

    /// <summary>Leaves the block with RIP at <paramref name="rip"/> and <paramref name="k"/> + 1 instructions retired.</summary>
    private void ExitAfter(int k, ulong rip)
    {
        WriteBackRegisters(onPath: false);
        StoreRip(rip);
        Const(k + 1);
        il.Emit(OpCodes.Ret);
    }

    private void StoreRip(ulong rip)
    {
        il.Emit(OpCodes.Ldloc, state);
        Const(rip & ipMask);
        il.Emit(OpCodes.Stfld, RipField);
    }

    /// <summary>Reads operand <paramref name="n"/> as X86Cpu.ReadOp does (the memory operand's offset is in <see cref="ea"/>).</summary>
    private void LoadOperand(in Instruction i, int n, int size)
    {
        switch (i.GetOpKind(n))
        {
            case OpKind.Register: LoadRegister(i.GetOpRegister(n)); break;
            case OpKind.Memory: ReadMemory(Registers.Segment(i.MemorySegment), size); break;
            case OpKind.Immediate8: Const((ulong)i.Immediate8); break;
            case OpKind.Immediate8_2nd: Const((ulong)i.Immediate8_2nd); break;
            case OpKind.Immediate16: Const((ulong)i.Immediate16); break;
            case OpKind.Immediate32: Const((ulong)i.Immediate32); break;
            default: Const(i.GetImmediate(n) & X86Cpu.Mask(size)); break;
        }
    }

    private void StoreOperand(in Instruction i, int n, int size, LocalBuilder value, int k)
    {
        if (i.GetOpKind(n) == OpKind.Register)
        {
            StoreRegister(i.GetOpRegister(n), value);
        }
        else
        {
            WriteMemory(Registers.Segment(i.MemorySegment), size, value, k, i);
        }
    }

    /// <summary>Records the flag-producing operation in the state, where RFLAGS reads find it.</summary>
    private void StorePending(FlagOp op, LocalBuilder? a, LocalBuilder? b, LocalBuilder result, int size)
    {
        il.Emit(OpCodes.Ldloc, state);
        Const((int)op);
        il.Emit(OpCodes.Stfld, PendingOpField);
        StoreField(PendingAField, a);
        StoreField(PendingBField, b);
        StoreField(PendingResultField, result);
        il.Emit(OpCodes.Ldloc, state);
        Const(size);
        il.Emit(OpCodes.Stfld, PendingSizeField);
    }

    private void StoreField(FieldInfo field, LocalBuilder? value)
    {
        il.Emit(OpCodes.Ldloc, state);
        if (value is null)
        {
            Const(0UL);
        }
        else
        {
            il.Emit(OpCodes.Ldloc, value);
        }

        il.Emit(OpCodes.Stfld, field);
    }

    /// <summary>CF as 0 or 1 (a uint64), from whatever produced the flags last.</summary>
    private void LoadCarry()
    {
        il.Emit(OpCodes.Ldloc, state);
        il.Emit(OpCodes.Call, CarryFlag);
        il.Emit(OpCodes.Conv_U8);
    }
}
