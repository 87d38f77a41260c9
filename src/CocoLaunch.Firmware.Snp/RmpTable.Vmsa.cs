using CocoLaunch.Abi;

namespace CocoLaunch.Firmware.Snp;

/// <summary>
/// The RMP entry's VMSA bit: set by the guest's RMPADJUST (attributes bit 16) on a page it has validated, so that the
/// page may serve as a vCPU's save area. VMRUN refuses a VMSA page without it.
/// </summary>
public sealed partial class RmpTable
{
    private readonly HashSet<ulong> vmsaPages = [];

    /// <summary>RMPADJUST of the VMSA bit on a 4K page: false (nothing changes) unless the page is the guest's and validated.</summary>
    public bool SetVmsa(Gpa gpa, bool vmsa)
    {
        ulong page = gpa.Value / PageSize.Size4K;
        lock (launchEntries)
        {
            SmashLocked(page / PagesPerChunk); // a 4K RMPADJUST inside a 2M entry: PSMASH first, as for PVALIDATE
        }

        if (!IsUsable(gpa))
        {
            return false;
        }

        lock (launchEntries)
        {
            _ = vmsa ? vmsaPages.Add(page) : vmsaPages.Remove(page);
        }

        return true;
    }

    /// <summary>Whether VMRUN may use the page as a save area: the guest's, validated, with the VMSA bit.</summary>
    public bool IsVmsa(Gpa gpa)
    {
        lock (launchEntries)
        {
            if (!vmsaPages.Contains(gpa.Value / PageSize.Size4K))
            {
                return false;
            }
        }

        return IsUsable(gpa);
    }
}
