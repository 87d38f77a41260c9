namespace CocoLaunch.Memory;

/// <summary>Per-page shareability of a guest_memfd (in-place conversion series): shared pages may be host-mapped.</summary>
internal sealed class ShareabilityMap(ulong pages, bool initiallyShared)
{
    private volatile IntervalMap<bool> map = new IntervalMap<bool>(false).With(0, pages, initiallyShared);

    public ulong Pages { get; } = pages;

    public bool IsShared(ulong page) => map[page];

    public IntervalMap<bool> Snapshot => map;

    public void Set(ulong first, ulong count, bool shared) => map = map.With(first, first + count, shared);
}
