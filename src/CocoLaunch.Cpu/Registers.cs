using Iced.Intel;

namespace CocoLaunch.Cpu;

/// <summary>Iced's <see cref="Register"/> values mapped once to a GPR index, width and high-byte flag.</summary>
internal static class Registers
{
    // Iced's Register values all fit in a byte.
    private const int Count = 256;

    /// <summary>GPR index (0–15) or −1; for AH/CH/DH/BH the index of RAX/RCX/RDX/RBX.</summary>
    public static readonly sbyte[] Index = new sbyte[Count];

    /// <summary>Width in bytes of a GPR register value.</summary>
    public static readonly byte[] Size = new byte[Count];

    public static readonly bool[] High8 = new bool[Count];

    static Registers()
    {
        Array.Fill(Index, (sbyte)-1);
        for (int i = 0; i < 16; i++)
        {
            Set(Register.RAX + i, i, 8);
            Set(Register.EAX + i, i, 4);
            Set(Register.AX + i, i, 2);
        }

        // Without REX, byte registers 4–7 are AH, CH, DH, BH; Iced names SPL–DIL separately.
        for (int i = 0; i < 4; i++)
        {
            Set(Register.AL + i, i, 1);
            Set(Register.AH + i, i, 1);
            High8[(int)(Register.AH + i)] = true;
        }

        for (int i = 4; i < 16; i++)
        {
            Set(Register.SPL + (i - 4), i, 1);
        }
    }

    private static void Set(Register r, int index, int size)
    {
        Index[(int)r] = (sbyte)index;
        Size[(int)r] = (byte)size;
    }

    public static SegmentName Segment(Register r) => r switch
    {
        Register.ES => SegmentName.Es,
        Register.CS => SegmentName.Cs,
        Register.SS => SegmentName.Ss,
        Register.DS => SegmentName.Ds,
        Register.FS => SegmentName.Fs,
        Register.GS => SegmentName.Gs,
        _ => throw new ArgumentOutOfRangeException(nameof(r)),
    };
}
