namespace CocoLaunch.Vmm.Devices;

/// <summary>Non-overlapping [first, first + length) ranges, each owned by one device, found by binary search.</summary>
internal sealed class AddressRanges<TDevice>
    where TDevice : class
{
    private readonly List<(ulong First, ulong Length, TDevice Device)> ranges = [];

    public void Add(ulong first, ulong length, TDevice device, string space)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (length == 0 || first + length - 1 < first)
        {
            throw new ArgumentException($"{space} range at 0x{first:X} with length 0x{length:X} is empty or wraps", nameof(length));
        }

        int at = IndexAfter(first);
        bool hitsPrevious = at > 0 && ranges[at - 1].First + ranges[at - 1].Length > first;
        bool hitsNext = at < ranges.Count && ranges[at].First <= first + length - 1;
        if (hitsPrevious || hitsNext)
        {
            var other = hitsPrevious ? ranges[at - 1] : ranges[at];
            throw new ArgumentException(
                $"{space} range 0x{first:X}+0x{length:X} overlaps 0x{other.First:X}+0x{other.Length:X}", nameof(first));
        }

        ranges.Insert(at, (first, length, device));
    }

    /// <summary>Drops every range <paramref name="device"/> owns.</summary>
    public void Remove(TDevice device) => ranges.RemoveAll(r => ReferenceEquals(r.Device, device));

    /// <summary>The device whose range holds <paramref name="address"/>, and its base.</summary>
    public bool TryFind(ulong address, out TDevice device, out ulong first)
    {
        int at = IndexAfter(address) - 1;
        if (at >= 0 && address - ranges[at].First < ranges[at].Length)
        {
            (first, _, device) = ranges[at];
            return true;
        }

        device = null!;
        first = 0;
        return false;
    }

    /// <summary>The index of the first range starting after <paramref name="address"/>.</summary>
    private int IndexAfter(ulong address)
    {
        int lo = 0;
        int hi = ranges.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) / 2;
            if (ranges[mid].First <= address)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }
}
