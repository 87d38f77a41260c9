using CocoLaunch.Abi;

namespace CocoLaunch.Firmware.Snp;

/// <summary>One 4 KiB page's Reverse Map Table entry, as far as the launch model needs it.</summary>
/// <param name="Assigned">Guest-owned (else hypervisor-owned, i.e. shared).</param>
/// <param name="Validated">The page was validated: by LAUNCH_UPDATE, or later by the guest's PVALIDATE.</param>
/// <param name="Immutable">Only the firmware may change the entry (launch pages, firmware-owned pages).</param>
public readonly record struct RmpEntry(bool Assigned, bool Validated, bool Immutable, uint Asid, Gpa Gpa)
{
    public static RmpEntry HypervisorOwned { get; } = default;
}

/// <summary>
/// The RMP entries of one guest's pages, keyed by guest page. Pages start hypervisor-owned; LAUNCH_UPDATE makes them
/// assigned, validated and immutable; a private fault after launch (the guest_memfd prepare hook) makes them
/// assigned but not validated, which the guest then does with PVALIDATE.
/// </summary>
public sealed class RmpTable
{
    private const int PagesPerChunk = 512;

    // Launch pages are few and carry full entries; pages assigned after launch can span a whole sparse guest,
    // so they are one bit each in 2 MiB chunks (64 bytes per chunk touched) and share the guest's ASID.
    private readonly Dictionary<ulong, RmpEntry> launchEntries = [];
    private readonly Dictionary<ulong, ulong[]> guestAssigned = [];
    private readonly Dictionary<ulong, uint> guestAsid = [];
    private int guestPages;

    public RmpEntry this[Gpa gpa]
    {
        get
        {
            ulong page = gpa.Value / PageSize.Size4K;
            lock (launchEntries)
            {
                if (launchEntries.TryGetValue(page, out var entry))
                {
                    return entry;
                }

                return IsGuestAssigned(page)
                    ? new RmpEntry(true, false, false, guestAsid[page / PagesPerChunk], new Gpa(page * PageSize.Size4K))
                    : RmpEntry.HypervisorOwned;
            }
        }
    }

    public int AssignedPages
    {
        get
        {
            lock (launchEntries)
            {
                return launchEntries.Count + guestPages;
            }
        }
    }

    internal void Set(Gpa gpa, RmpEntry entry)
    {
        lock (launchEntries)
        {
            launchEntries[gpa.Value / PageSize.Size4K] = entry;
        }
    }

    /// <summary>RMPUPDATE to guest-owned for a page the guest faults in after launch; false if it is already assigned.</summary>
    public bool AssignForGuest(Gpa gpa, uint asid)
    {
        ulong page = gpa.Value / PageSize.Size4K;
        lock (launchEntries)
        {
            if (launchEntries.ContainsKey(page) || IsGuestAssigned(page))
            {
                return false;
            }

            ulong chunk = page / PagesPerChunk;
            if (!guestAssigned.TryGetValue(chunk, out var bits))
            {
                guestAssigned[chunk] = bits = new ulong[PagesPerChunk / 64];
                guestAsid[chunk] = asid;
            }

            int bit = (int)(page % PagesPerChunk);
            bits[bit / 64] |= 1UL << (bit % 64);
            guestPages++;
            return true;
        }
    }

    /// <summary>RMPUPDATE back to hypervisor-owned (a conversion to shared, or a reclaim after a failed update).</summary>
    public void Reclaim(Gpa gpa)
    {
        ulong page = gpa.Value / PageSize.Size4K;
        lock (launchEntries)
        {
            if (launchEntries.Remove(page) || !IsGuestAssigned(page))
            {
                return;
            }

            int bit = (int)(page % PagesPerChunk);
            guestAssigned[page / PagesPerChunk][bit / 64] &= ~(1UL << (bit % 64));
            guestPages--;
        }
    }

    private bool IsGuestAssigned(ulong page)
    {
        int bit = (int)(page % PagesPerChunk);
        return guestAssigned.TryGetValue(page / PagesPerChunk, out var bits) && (bits[bit / 64] & (1UL << (bit % 64))) != 0;
    }
}
