using CocoLaunch.Abi;

namespace CocoLaunch.Firmware.Snp;

/// <summary>
/// 2M RMP entries. Upstream guest_memfd hands out 4K folios only, so every entry is 4K there; with 2M folios (the
/// hugetlb series) KVM's prepare hook assigns a 2 MiB region that holds no guest page yet as one 2M entry, the
/// guest can validate it with one 2M PVALIDATE, and the nested page table may map it with one 2M leaf. Any 4K
/// operation inside the region first splits it (PSMASH), keeping each page's state.
/// </summary>
public sealed partial class RmpTable
{
    // The per-page bits stay authoritative for a 2M entry: all 512 are assigned, and validation is all or nothing.
    private readonly HashSet<ulong> largeChunks = [];

    /// <summary>2M entries the prepare hook created, over the guest's life.</summary>
    public long LargeEntriesCreated { get; private set; }

    /// <summary>PSMASHes: 2M entries split to 512 4K entries by a 4K operation inside them.</summary>
    public long Psmashes { get; private set; }

    /// <summary>2M PVALIDATEs that set the bit.</summary>
    public long Validated2M { get; private set; }

    /// <summary>2M entries now in the table.</summary>
    public int LargeEntries
    {
        get
        {
            lock (launchEntries)
            {
                return largeChunks.Count;
            }
        }
    }

    /// <summary>Whether the page lies in a 2M entry.</summary>
    public bool IsLarge(Gpa gpa)
    {
        lock (launchEntries)
        {
            return largeChunks.Contains(gpa.Value / PageSize.Size2M);
        }
    }

    /// <summary>
    /// RMPUPDATE of a 2M entry to guest-owned (not validated) for the 2M-aligned region at <paramref name="gpa"/>; false,
    /// changing nothing, if any page of the region is already assigned (then only 4K entries can cover it).
    /// </summary>
    public bool AssignForGuest2M(Gpa gpa, uint asid)
    {
        if (gpa.Value % PageSize.Size2M != 0)
        {
            throw new ArgumentException($"a 2M RMP entry starts 2 MiB aligned, not at {gpa}", nameof(gpa));
        }

        ulong chunk = gpa.Value / PageSize.Size2M;
        lock (launchEntries)
        {
            if (guestAssigned.TryGetValue(chunk, out var bits) && bits.Any(w => w != 0))
            {
                return false;
            }

            ulong first = chunk * PagesPerChunk;
            if (launchEntries.Keys.Any(p => p >= first && p < first + PagesPerChunk))
            {
                return false;
            }

            guestAssigned[chunk] = Enumerable.Repeat(ulong.MaxValue, PagesPerChunk / 64).ToArray();
            guestAsid[chunk] = asid;
            guestValidated.Remove(chunk);
            guestPages += PagesPerChunk;
            largeChunks.Add(chunk);
            LargeEntriesCreated++;
            return true;
        }
    }

    /// <summary>PSMASH: splits the 2M entry holding the page into 4K entries with the same state; false if it was not 2M.</summary>
    public bool Psmash(Gpa gpa)
    {
        lock (launchEntries)
        {
            return SmashLocked(gpa.Value / PageSize.Size2M);
        }
    }

    private bool SmashLocked(ulong chunk)
    {
        if (!largeChunks.Remove(chunk))
        {
            return false;
        }

        Psmashes++;
        return true;
    }

    private (uint ReturnCode, bool Unchanged)? Pvalidate2MLocked(ulong chunk, bool validate)
    {
        ulong first = chunk * PagesPerChunk;
        if (!largeChunks.Contains(chunk))
        {
            // A 4K entry answers a 2M request with a size mismatch; an unassigned page is an RMP #NPF first.
            return launchEntries.ContainsKey(first) || IsGuestAssigned(first) ? (PvalidateFailSizeMismatch, false) : null;
        }

        bool already = guestValidated.TryGetValue(chunk, out var words) ? words.All(w => w == ulong.MaxValue) : false;
        bool none = words is null || words.All(w => w == 0);
        if (validate ? already : none)
        {
            return (0, true);
        }

        if (validate)
        {
            guestValidated[chunk] = Enumerable.Repeat(ulong.MaxValue, PagesPerChunk / 64).ToArray();
            ValidatedByGuest += PagesPerChunk;
            Validated2M++;
        }
        else
        {
            guestValidated.Remove(chunk);
        }

        return (0, false);
    }
}
