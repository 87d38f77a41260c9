using System.Runtime.CompilerServices;
using Iced.Intel;

namespace CocoLaunch.Cpu;

/// <summary>
/// LOCK-prefixed read-modify-writes, and XCHG with memory, as atomic across vCPU threads (SDM vol. 3 §9.1.2.2):
/// the instruction's write to the location it read is a compare-and-swap against the value it read, so a store
/// another vCPU made in between (a plain spin_unlock byte store racing a LOCK BTS on the same word) is never lost;
/// when the swap fails the instruction runs again from the registers and flags it started with. Its accesses take
/// the slow path (as alignment checks do), so the TLB fast path every other access takes carries no test for them.
/// </summary>
public sealed unsafe partial class X86Cpu
{
    private bool lockedAccess, lockedReadTaken, lockedConflict;
    private ulong lockedLinear, lockedValue;
    private int lockedSize;

    private void ExecuteLocked(ref Instruction i)
    {
        Span<ulong> gpr = stackalloc ulong[16];
        State.Gpr.CopyTo(gpr);
        ulong rflags = State.Rflags;
        while (true)
        {
            lockedAccess = true;
            lockedReadTaken = false;
            lockedConflict = false;
            checkEveryAccess = true;
            try
            {
                ExecuteOne(ref i);
            }
            finally
            {
                lockedAccess = false;
                checkEveryAccess = implicitSupervisor || alignmentChecks;
            }

            if (!lockedConflict)
            {
                return;
            }

            gpr.CopyTo(State.Gpr);
            State.Rflags = rflags;
        }
    }

    /// <summary>In a locked instruction: remembers the first memory value it read.</summary>
    private void NoteLockedRead(ulong linear, int size, ulong value)
    {
        if (!lockedReadTaken)
        {
            (lockedReadTaken, lockedLinear, lockedSize, lockedValue) = (true, linear, size, value);
        }
    }

    /// <summary>In a locked instruction: the write back to what it read, as a compare-and-swap; true when it was handled here.</summary>
    private bool TryLockedWrite(byte* p, ulong linear, int size, ulong value)
    {
        if (!lockedReadTaken || linear != lockedLinear || size != lockedSize)
        {
            return false;
        }

        bool swapped = size switch
        {
            1 => Interlocked.CompareExchange(ref Unsafe.AsRef<byte>(p), (byte)value, (byte)lockedValue) == (byte)lockedValue,
            2 => Interlocked.CompareExchange(ref Unsafe.AsRef<ushort>(p), (ushort)value, (ushort)lockedValue) == (ushort)lockedValue,
            4 => Interlocked.CompareExchange(ref Unsafe.AsRef<uint>(p), (uint)value, (uint)lockedValue) == (uint)lockedValue,
            _ => Interlocked.CompareExchange(ref Unsafe.AsRef<ulong>(p), value, lockedValue) == lockedValue,
        };
        lockedConflict |= !swapped;
        return true;
    }
}
