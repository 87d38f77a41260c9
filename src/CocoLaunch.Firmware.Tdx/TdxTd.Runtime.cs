using CocoLaunch.Abi;

namespace CocoLaunch.Firmware.Tdx;

/// <summary>The Secure-EPT state of one 4 KiB private GPA, as the TDX module keeps it after the TD is built.</summary>
public enum SeptState
{
    /// <summary>No leaf: an access or ACCEPT is an EPT violation for the host to resolve.</summary>
    Free,

    /// <summary>TDH.MEM.PAGE.AUG added it; the guest must TDG.MEM.PAGE.ACCEPT it before use.</summary>
    Pending,

    /// <summary>PAGE.ADD at build time, or accepted: the guest may use it.</summary>
    Mapped,
}

/// <summary>The run-time Secure-EPT of a finalized TD: pages the host adds (AUG) or removes, and the guest accepts.</summary>
public sealed partial class TdxTd
{
    private readonly PageSet pending = new();

    public SeptState StateOf(Gpa gpa)
    {
        ulong page = gpa.AlignDown(Page).Value;
        return secureEpt.Contains(page) ? SeptState.Mapped : pending.Contains(page) ? SeptState.Pending : SeptState.Free;
    }

    /// <summary>Pages the guest may use (added at build time or accepted).</summary>
    public long MappedPages => secureEpt.Count;

    public long PendingPages => pending.Count;

    /// <summary>Successful 4K TDG.MEM.PAGE.ACCEPTs so far.</summary>
    public long AcceptedPages => Interlocked.Read(ref acceptedPages);

    private long acceptedPages;

    /// <summary>TDH.MEM.PAGE.AUG: after TDH.MR.FINALIZE, adds a zeroed 4K page the guest has not accepted yet.</summary>
    public void PageAug(Gpa gpa)
    {
        if (!IsFinalized)
        {
            throw new TdxException(TdxStatus.OpStateIncorrect, "TDH.MEM.PAGE.AUG", "the TD is not finalized");
        }

        CheckGpa("TDH.MEM.PAGE.AUG", gpa);
        if (secureEpt.Contains(gpa.Value) || !pending.Add(gpa.Value))
        {
            throw new TdxException(TdxStatus.EptEntryNotFree, "TDH.MEM.PAGE.AUG", $"GPA {gpa} is already in the Secure EPT");
        }
    }

    /// <summary>TDH.MEM.PAGE.REMOVE: the host takes a private page away (conversion to shared, hole punch).</summary>
    public void PageRemove(Gpa gpa)
    {
        CheckGpa("TDH.MEM.PAGE.REMOVE", gpa);
        if (!secureEpt.Remove(gpa.Value) && !pending.Remove(gpa.Value))
        {
            throw new TdxException(TdxStatus.EptWalkFailed, "TDH.MEM.PAGE.REMOVE", $"GPA {gpa} is not in the Secure EPT");
        }

        if (lastMappedPage == gpa.Value)
        {
            lastMappedPage = ulong.MaxValue;
        }
    }

    /// <summary>
    /// TDH.MEM.PAGE.REMOVE of every page in [start, start + bytes) that the Secure EPT holds (a zap); the GPAs removed
    /// go to <paramref name="removed"/>: the host reclaims those pages, and their contents are gone.
    /// </summary>
    public int PageRemoveRange(Gpa start, ulong bytes, List<ulong>? removed = null)
    {
        ulong end = start.Value + bytes < start.Value ? ulong.MaxValue : start.Value + bytes;
        int count = secureEpt.RemoveRange(start.Value, end, removed) + pending.RemoveRange(start.Value, end, removed);
        if (lastMappedPage >= start.Value && lastMappedPage < end)
        {
            lastMappedPage = ulong.MaxValue;
        }

        return count;
    }

    /// <summary>
    /// TDG.MEM.PAGE.ACCEPT's effect on the Secure EPT (guest-abi.md §2.4). Every private mapping is 4K at run time,
    /// as under upstream KVM, so a 2M request finds 4K leaves (or none) and never maps a 2M page.
    /// </summary>
    internal AcceptResult Accept(Gpa gpa, int level)
    {
        ulong size = level == 0 ? Page : PageSize.Size2M;
        if (gpa.Value % size != 0 || HasSharedBit(gpa))
        {
            return AcceptResult.InvalidOperand;
        }

        if (level == 1)
        {
            return secureEpt.AnyIn2M(gpa.Value) || pending.AnyIn2M(gpa.Value)
                ? AcceptResult.SizeMismatch
                : AcceptResult.EptViolation; // no leaf at all: the host maps (4K), and the retry finds a size mismatch
        }

        if (secureEpt.Contains(gpa.Value))
        {
            return AcceptResult.AlreadyAccepted;
        }

        if (!pending.Remove(gpa.Value))
        {
            return AcceptResult.EptViolation;
        }

        secureEpt.Add(gpa.Value);
        Interlocked.Increment(ref acceptedPages);
        return AcceptResult.Accepted;
    }
}

internal enum AcceptResult
{
    Accepted,
    AlreadyAccepted,
    SizeMismatch,
    InvalidOperand,
    EptViolation,
}
