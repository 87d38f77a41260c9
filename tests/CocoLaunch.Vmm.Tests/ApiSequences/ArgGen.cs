using static CocoLaunch.Vmm.Tests.ApiSequences.SequenceVm;

namespace CocoLaunch.Vmm.Tests.ApiSequences;

/// <summary>Random ioctl arguments: mostly inside the sequence's GPA window and files, sometimes corrupt on purpose.</summary>
internal static class ArgGen
{
    /// <summary>One operation in this many has an argument corrupted (reserved bits, flags, huge sizes, wrap-around).</summary>
    public const int CorruptOneIn = 8;

    public static bool Corrupt(Random r) => r.Next(CorruptOneIn) == 0;

    /// <summary>A page of the window: half the time near the start or a 2M boundary, where slots, leaves and conversions meet.</summary>
    public static ulong WindowPage(Random r) => r.Next(3) switch
    {
        0 => (ulong)r.Next(32),
        1 => (ulong)Math.Clamp((r.Next(4) * 512) + r.Next(-4, 5), 0, (int)WindowPages - 1),
        _ => (ulong)r.Next((int)WindowPages),
    };

    public static ulong Pages(Random r) => r.Next(8) switch
    {
        0 => 512,
        1 => 513,
        2 => (ulong)r.Next(1, 1025),
        3 => 1024,
        _ => (ulong)r.Next(1, 17),
    };

    public static ulong Gpa(Random r) => Base + (WindowPage(r) * K4);

    /// <summary>A GPA that is wrong in one of the ways ioctls must refuse or survive.</summary>
    public static ulong BadAddress(Random r) => r.Next(7) switch
    {
        0 => Gpa(r) + (ulong)r.Next(1, 4096),
        1 => 0xFFFF_FFFF_FFFF_F000,
        2 => (ulong)r.NextInt64() & ~0xFFFUL,
        3 => Gpa(r) | (1UL << 47),
        4 => Gpa(r) | (1UL << 51),
        5 => 0,
        _ => 1UL << 63,
    };

    public static ulong BadSize(Random r) => r.Next(6) switch
    {
        0 => 0,
        1 => (ulong)r.Next(1, 4096),
        2 => 1UL << 63,
        3 => 0xFFFF_FFFF_FFFF_F000,
        4 => (Pages(r) * K4) + 0x800,
        _ => 1UL << 40,
    };

    public static ulong Address(Random r) => Corrupt(r) ? BadAddress(r) : Gpa(r);

    public static ulong Size(Random r) => Corrupt(r) ? BadSize(r) : Pages(r) * K4;

    public static ulong RandomBits(Random r) => r.Next(3) switch
    {
        0 => 1UL << r.Next(64),
        1 => (ulong)r.NextInt64(),
        _ => ulong.MaxValue,
    };
}
