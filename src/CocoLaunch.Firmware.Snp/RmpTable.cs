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
/// assigned but not validated, which the guest then does with PVALIDATE. Entries are 4K, except where a 2M guest_memfd
/// folio let the prepare hook assign a whole 2 MiB region as one 2M entry (RmpTable.Large.cs).
/// </summary>
public sealed partial class RmpTable
{
    private const int PagesPerChunk = 512;

    // Launch pages are few and carry full entries; pages assigned after launch can span a whole sparse guest,
    // so they are one bit each in 2 MiB chunks (64 bytes per chunk touched) and share the guest's ASID.
    private readonly Dictionary<ulong, RmpEntry> launchEntries = [];
    private readonly Dictionary<ulong, ulong[]> guestAssigned = [];
    private readonly Dictionary<ulong, ulong[]> guestValidated = [];
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
                    ? new RmpEntry(true, Test(guestValidated, page), false, guestAsid[page / PagesPerChunk], new Gpa(page * PageSize.Size4K))
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
            vmsaPages.Remove(page);
            if (launchEntries.Remove(page) || !IsGuestAssigned(page))
            {
                return;
            }

            SmashLocked(page / PagesPerChunk); // a 4K RMPUPDATE inside a 2M entry needs PSMASH first

            int bit = (int)(page % PagesPerChunk);
            guestAssigned[page / PagesPerChunk][bit / 64] &= ~(1UL << (bit % 64));
            Flip(guestValidated, page, false);
            guestPages--;
        }
    }

    /// <summary>RMPUPDATE to hypervisor-owned for every guest page in [start, start + bytes) (a zap of private memory).</summary>
    public void ReclaimRange(Gpa start, ulong bytes)
    {
        ulong first = start.Value / PageSize.Size4K;
        ulong end = bytes / PageSize.Size4K > ulong.MaxValue - first ? ulong.MaxValue : first + (bytes / PageSize.Size4K);
        List<ulong> pages;
        lock (launchEntries)
        {
            pages = [.. launchEntries.Keys.Where(p => p >= first && p < end)];
            foreach (ulong chunk in guestAssigned.Keys.Where(c => c * PagesPerChunk < end && first < (c + 1) * PagesPerChunk))
            {
                for (ulong p = Math.Max(first, chunk * PagesPerChunk); p < Math.Min(end, (chunk + 1) * PagesPerChunk); p++)
                {
                    if (IsGuestAssigned(p))
                    {
                        pages.Add(p);
                    }
                }
            }
        }

        foreach (ulong p in pages)
        {
            Reclaim(new Gpa(p * PageSize.Size4K));
        }
    }

    /// <summary>
    /// PVALIDATE on the page's RMP entry (guest-abi.md §6.1): the Validated bit set or cleared, with the return code,
    /// and whether the bit was already as asked (CF = 1). Null when the page is not the guest's: the hardware then
    /// takes an RMP #NPF, which the host must resolve first. A 2M request on 4K entries is a size mismatch, and the
    /// guest falls back to 4K; a 4K request inside a 2M entry is the hardware's size-mismatch #NPF, which KVM answers
    /// with PSMASH before the instruction runs again, so here it splits the entry and goes on at 4K.
    /// </summary>
    public (uint ReturnCode, bool Unchanged)? Pvalidate(Gpa gpa, bool size2M, bool validate)
    {
        ulong page = gpa.Value / PageSize.Size4K;
        lock (launchEntries)
        {
            if (size2M)
            {
                return gpa.Value % PageSize.Size2M != 0 ? (PvalidateFailInput, false) : Pvalidate2MLocked(page / PagesPerChunk, validate);
            }

            SmashLocked(page / PagesPerChunk);
            if (launchEntries.TryGetValue(page, out var entry))
            {
                if (entry.Validated == validate)
                {
                    return (0, true);
                }

                launchEntries[page] = entry with { Validated = validate };
                return (0, false);
            }

            if (!IsGuestAssigned(page))
            {
                return null;
            }

            if (Test(guestValidated, page) == validate)
            {
                return (0, true);
            }

            Flip(guestValidated, page, validate);
            ValidatedByGuest += validate ? 1 : 0;
            return (0, false);
        }
    }

    public const uint PvalidateFailInput = 1, PvalidateFailSizeMismatch = 6;

    /// <summary>Pages whose Validated bit a guest PVALIDATE set, over the guest's life (512 for a 2M PVALIDATE).</summary>
    public long ValidatedByGuest { get; private set; }

    /// <summary>Whether a private access may use the page: guest-owned and validated.</summary>
    public bool IsUsable(Gpa gpa)
    {
        var e = this[gpa];
        return e.Assigned && e.Validated;
    }

    private static bool Test(Dictionary<ulong, ulong[]> bits, ulong page)
    {
        int bit = (int)(page % PagesPerChunk);
        return bits.TryGetValue(page / PagesPerChunk, out var words) && (words[bit / 64] & (1UL << (bit % 64))) != 0;
    }

    private static void Flip(Dictionary<ulong, ulong[]> bits, ulong page, bool on)
    {
        int bit = (int)(page % PagesPerChunk);
        if (!bits.TryGetValue(page / PagesPerChunk, out var words))
        {
            if (!on)
            {
                return;
            }

            bits[page / PagesPerChunk] = words = new ulong[PagesPerChunk / 64];
        }

        words[bit / 64] = on ? words[bit / 64] | (1UL << (bit % 64)) : words[bit / 64] & ~(1UL << (bit % 64));
    }

    private bool IsGuestAssigned(ulong page)
    {
        int bit = (int)(page % PagesPerChunk);
        return guestAssigned.TryGetValue(page / PagesPerChunk, out var bits) && (bits[bit / 64] & (1UL << (bit % 64))) != 0;
    }
}
