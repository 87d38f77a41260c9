namespace CocoLaunch.Cpu;

/// <summary>
/// Direct block chaining, as QEMU's TCG chains translation blocks through goto_tb: after a compiled block has run
/// in full, its successor is taken from the block's own links instead of the dispatcher (mode, fetch translation,
/// jump cache, page generations). A link holds while the TLB generation it was made at and the code generation
/// hold, and the CS base and code size it was made for are the current ones; the run loop still regains control
/// whenever the budget, a pending exit or a requested interrupt window asks for it.
/// </summary>
public sealed partial class X86Cpu
{
    // The last block that ran compiled and in full, and could have a successor linked: the next fetched block becomes it.
    private Block? chainFrom;
    private long blocksChained;

    /// <summary>
    /// Runs <paramref name="block"/>'s <paramref name="code"/>, then its linked successors while they are compiled,
    /// valid and fit in <paramref name="budget"/>; returns the instructions retired (a faulting one included). One
    /// protected region covers the whole chain: a fault ends it, and the block that faulted counts the
    /// instructions before the faulting one (jitIndex).
    /// </summary>
    private int RunChain(Block block, Func<X86Cpu, int> code, long budget)
    {
        int total = 0;
        try
        {
            while (true)
            {
                int done = code(this);
                total += done;
                budget -= done;
                retired += done;
                instructionsCompiled += done;
                blockEnded = false;
                if (mmioWritten is { } written)
                {
                    mmioWritten = null;
                    pendingExit ??= written;
                }

                // An early stop or an exit ends the chain; so does a block that may have changed the mode or CS.
                if (done != block.Count || !block.Chainable || pendingExit is not null)
                {
                    chainFrom = null;
                    return total;
                }

                if (InterruptWindowExiting && (State.SystemFlags & CpuState.FlagIf) != 0) // IF without materializing pending arithmetic flags
                {
                    chainFrom = block;
                    return total; // the run loop opens the window (or runs the one shadowed instruction first)
                }

                // chainFrom is written only when the chain ends here: a reference store per block costs a GC write barrier.
                var next = LinkedSuccessor(block);
                if (next is null || next.Compiled is not { } nextCode || next.Count > budget || total > int.MaxValue - MaxBlockInstructions)
                {
                    chainFrom = block;
                    return total;
                }

                blocksChained++;
                block = next;
                code = nextCode;
            }
        }
        catch (GuestFault f)
        {
            EndChainAtFault();
            DeliverFault(f, instructionRip);
            return total + jitIndex + 1;
        }
        catch (MmioReadPending m)
        {
            EndChainAtFault();
            State.Rip = instructionRip;
            pendingExit = m.Exit;
            return total + jitIndex;
        }
        catch (PlatformFault f)
        {
            EndChainAtFault();
            DeliverFault(new GuestFault(f.Vector, f.ErrorCode), instructionRip);
            return total + jitIndex + 1;
        }
        catch (PlatformStop stop)
        {
            EndChainAtFault();
            State.Rip = instructionRip;
            pendingExit = new CpuExit.Stopped(stop.Reason);
            return total + jitIndex;
        }
    }

    private void EndChainAtFault()
    {
        blockEnded = false;
        chainFrom = null;
        retired += jitIndex;
    }

    /// <summary>The block linked at the current RIP, if the link still holds and the block's code is unchanged.</summary>
    private Block? LinkedSuccessor(Block block)
    {
        ulong linear = (block.CsBase + State.Rip) & (block.Bitness == 64 ? ulong.MaxValue : 0xFFFF_FFFF);
        var (next, stamp) = linear == block.EndLinear ? (block.FallThrough, block.FallThroughTlb) : (block.Taken, block.TakenTlb);
        return next is not null && next.Linear == linear && stamp == tlbGeneration && next.CheckedAt == codeGeneration ? next : null;
    }

    /// <summary>Links the block that just ran in full to <paramref name="next"/>, fetched through the dispatcher at the current RIP.</summary>
    private void Link(Block next)
    {
        var from = chainFrom!;
        chainFrom = null;
        if (from.CsBase != next.CsBase || from.Bitness != next.Bitness)
        {
            return;
        }

        if (next.Linear == from.EndLinear)
        {
            from.FallThrough = next;
            from.FallThroughTlb = tlbGeneration;
        }
        else
        {
            from.Taken = next;
            from.TakenTlb = tlbGeneration;
        }
    }
}
