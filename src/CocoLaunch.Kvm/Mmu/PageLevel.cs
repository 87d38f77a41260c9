using CocoLaunch.Abi;

namespace CocoLaunch.Kvm.Mmu;

/// <summary>Stage-2 leaf levels, numbered as KVM's PG_LEVEL_4K/2M/1G.</summary>
public enum PageLevel
{
    Size4K = 1,
    Size2M = 2,
    Size1G = 3,
}

public static class PageLevels
{
    public static ulong Bytes(this PageLevel level) => level switch
    {
        PageLevel.Size4K => PageSize.Size4K,
        PageLevel.Size2M => PageSize.Size2M,
        _ => PageSize.Size1G,
    };

    /// <summary>4 KiB frames in one leaf of this level.</summary>
    public static ulong Frames(this PageLevel level) => level.Bytes() / PageSize.Size4K;

    public static string Name(this PageLevel level) => level switch
    {
        PageLevel.Size4K => "4K",
        PageLevel.Size2M => "2M",
        _ => "1G",
    };

    /// <summary>The largest level whose size is at most <paramref name="bytes"/>.</summary>
    public static PageLevel FromBytes(ulong bytes) =>
        bytes >= PageSize.Size1G ? PageLevel.Size1G : bytes >= PageSize.Size2M ? PageLevel.Size2M : PageLevel.Size4K;
}
