namespace CocoLaunch.Vmm.Devices;

/// <summary>What an undecoded access reads: a floating bus pulls every data line high.</summary>
internal static class AccessWidth
{
    public static uint AllOnes(int size) => size switch { 1 => 0xFF, 2 => 0xFFFF, _ => 0xFFFF_FFFF };

    public static ulong AllOnes64(int size) => size >= 8 ? ulong.MaxValue : AllOnes(size);
}
