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
    private readonly Dictionary<ulong, RmpEntry> entries = [];

    public RmpEntry this[Gpa gpa]
    {
        get
        {
            lock (entries)
            {
                return entries.GetValueOrDefault(gpa.AlignDown(PageSize.Size4K).Value, RmpEntry.HypervisorOwned);
            }
        }
    }

    public int AssignedPages
    {
        get
        {
            lock (entries)
            {
                return entries.Count;
            }
        }
    }

    internal void Set(Gpa gpa, RmpEntry entry)
    {
        lock (entries)
        {
            entries[gpa.Value] = entry;
        }
    }

    /// <summary>RMPUPDATE to guest-owned for a page the guest faults in after launch; false if it is already assigned.</summary>
    public bool AssignForGuest(Gpa gpa, uint asid)
    {
        lock (entries)
        {
            return entries.TryAdd(gpa.AlignDown(PageSize.Size4K).Value, new RmpEntry(true, false, false, asid, gpa.AlignDown(PageSize.Size4K)));
        }
    }

    /// <summary>RMPUPDATE back to hypervisor-owned (a conversion to shared, or a reclaim after a failed update).</summary>
    public void Reclaim(Gpa gpa)
    {
        lock (entries)
        {
            entries.Remove(gpa.AlignDown(PageSize.Size4K).Value);
        }
    }
}
