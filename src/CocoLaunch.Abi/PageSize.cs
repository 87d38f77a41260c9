namespace CocoLaunch.Abi;

/// <summary>x86 page and huge-page sizes in bytes.</summary>
public static class PageSize
{
    public const ulong Size4K = 0x1000;
    public const ulong Size2M = 0x20_0000;
    public const ulong Size1G = 0x4000_0000;

    public static bool IsAligned4K(ulong value) => value % Size4K == 0;
}
