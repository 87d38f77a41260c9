using System.Reflection;
using System.Reflection.Emit;

namespace CocoLaunch.Cpu.Jit;

/// <summary>
/// The software-TLB fast path inline in compiled code, as QEMU's TCG emits its TLB lookup before each guest load
/// and store: in 64-bit code, for a segment without a base (all but FS and GS), the linear address is the offset,
/// and a hit is one tag compare. The tag is the page with bit 0 set, and the CPU fills it only after a walk that
/// allowed the access at the current rights, for RAM and never for a page of decoded code when writing, so a
/// hit needs no other check; a non-canonical address never matches a tag. Anything else calls the CPU's access
/// (the miss, a page crossing, MMIO, FS/GS, 16/32-bit code).
/// </summary>
internal sealed partial class BlockCompiler
{
    private static readonly FieldInfo TlbTagField = typeof(X86Cpu).GetField("tlbTag", Any)!;
    private static readonly FieldInfo TlbHostField = typeof(X86Cpu).GetField("tlbHost", Any)!;
    private static readonly FieldInfo CheckEveryAccessField = typeof(X86Cpu).GetField("checkEveryAccess", Any)!;
    private static readonly FieldInfo NoTlbTagsField = typeof(X86Cpu).GetField(nameof(X86Cpu.NoTlbTags), BindingFlags.NonPublic | BindingFlags.Static)!;

    private LocalBuilder? readTags, readHosts, writeTags, writeHosts, tlbIndex;

    private bool InlineTlb(SegmentName seg) => readTags is not null && seg is not (SegmentName.Fs or SegmentName.Gs);

    /// <summary>
    /// At block entry: the read and write TLBs into locals. While every access must take the slow path (alignment
    /// checks armed), the tags are an empty table; that state changes only between blocks.
    /// </summary>
    private void LoadTlb()
    {
        if (block.Bitness != 64)
        {
            return;
        }

        readTags = il.DeclareLocal(typeof(ulong[]));
        writeTags = il.DeclareLocal(typeof(ulong[]));
        readHosts = il.DeclareLocal(typeof(nint[]));
        writeHosts = il.DeclareLocal(typeof(nint[]));
        tlbIndex = il.DeclareLocal(typeof(int));
        LoadTable(TlbHostField, (int)Access.Read, readHosts);
        LoadTable(TlbHostField, (int)Access.Write, writeHosts);
        var slowOnly = il.DefineLabel();
        var loaded = il.DefineLabel();
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Ldfld, CheckEveryAccessField);
        il.Emit(OpCodes.Brtrue, slowOnly);
        LoadTable(TlbTagField, (int)Access.Read, readTags);
        LoadTable(TlbTagField, (int)Access.Write, writeTags);
        il.Emit(OpCodes.Br, loaded);
        il.MarkLabel(slowOnly);
        il.Emit(OpCodes.Ldsfld, NoTlbTagsField);
        il.Emit(OpCodes.Stloc, readTags);
        il.Emit(OpCodes.Ldsfld, NoTlbTagsField);
        il.Emit(OpCodes.Stloc, writeTags);
        il.MarkLabel(loaded);
    }

    private void LoadTable(FieldInfo field, int kind, LocalBuilder into)
    {
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Ldfld, field);
        Const(kind);
        il.Emit(OpCodes.Ldelem_Ref);
        il.Emit(OpCodes.Stloc, into);
    }

    /// <summary>
    /// Pushes the host address of the <paramref name="size"/>-byte access at <see cref="ea"/> when the TLB holds its
    /// page and the access stays inside it; otherwise branches to <paramref name="miss"/> with the stack as it was.
    /// </summary>
    private void EmitTlbHit(bool write, int size, Label miss)
    {
        il.Emit(OpCodes.Ldloc, ea);
        Const(12);
        il.Emit(OpCodes.Shr_Un);
        il.Emit(OpCodes.Conv_I4);
        Const(X86Cpu.TlbEntries - 1);
        il.Emit(OpCodes.And);
        il.Emit(OpCodes.Stloc, tlbIndex!);
        il.Emit(OpCodes.Ldloc, write ? writeTags! : readTags!);
        il.Emit(OpCodes.Ldloc, tlbIndex!);
        il.Emit(OpCodes.Ldelem_I8);
        il.Emit(OpCodes.Ldloc, ea);
        Const(~0xFFFUL);
        il.Emit(OpCodes.And);
        Const(1UL);
        il.Emit(OpCodes.Or);
        il.Emit(OpCodes.Bne_Un, miss);
        if (size > 1)
        {
            il.Emit(OpCodes.Ldloc, ea);
            Const(0xFFFUL);
            il.Emit(OpCodes.And);
            Const((ulong)(4096 - size));
            il.Emit(OpCodes.Bgt_Un, miss);
        }

        il.Emit(OpCodes.Ldloc, write ? writeHosts! : readHosts!);
        il.Emit(OpCodes.Ldloc, tlbIndex!);
        il.Emit(OpCodes.Ldelem_I);
        il.Emit(OpCodes.Ldloc, ea);
        Const(0xFFFUL);
        il.Emit(OpCodes.And);
        il.Emit(OpCodes.Conv_U);
        il.Emit(OpCodes.Add);
    }

    /// <summary>Loads the uint64 zero-extension of <paramref name="size"/> bytes at the host address on the stack.</summary>
    private void LoadHost(int size)
    {
        switch (size)
        {
            case 1: il.Emit(OpCodes.Ldind_U1); il.Emit(OpCodes.Conv_U8); break;
            case 2: il.Emit(OpCodes.Unaligned, (byte)1); il.Emit(OpCodes.Ldind_U2); il.Emit(OpCodes.Conv_U8); break;
            case 4: il.Emit(OpCodes.Unaligned, (byte)1); il.Emit(OpCodes.Ldind_U4); il.Emit(OpCodes.Conv_U8); break;
            default: il.Emit(OpCodes.Unaligned, (byte)1); il.Emit(OpCodes.Ldind_I8); break;
        }
    }

    /// <summary>Stores the low <paramref name="size"/> bytes of <paramref name="value"/> at the host address on the stack.</summary>
    private void StoreHost(int size, LocalBuilder value)
    {
        il.Emit(OpCodes.Ldloc, value);
        switch (size)
        {
            case 1: il.Emit(OpCodes.Stind_I1); break;
            case 2: il.Emit(OpCodes.Unaligned, (byte)1); il.Emit(OpCodes.Stind_I2); break;
            case 4: il.Emit(OpCodes.Unaligned, (byte)1); il.Emit(OpCodes.Stind_I4); break;
            default: il.Emit(OpCodes.Unaligned, (byte)1); il.Emit(OpCodes.Stind_I8); break;
        }
    }
}
