namespace CocoLaunch.Vmm.Acpi;

/// <summary>Small resource descriptors for _CRS (ACPI 6.5 §6.4.2) and the end tag that closes the template.</summary>
internal static partial class ResourceTemplate
{
    private const byte IrqNoFlagsTag = 0x22; // type 0x04, length 2
    private const byte IoTag = 0x47; // type 0x08, length 7
    private const byte EndTag = 0x79; // type 0x0F, length 1
    private const byte IoDecode16 = 0x01;

    /// <summary>IO(Decode16, min, max, alignment, length) (§6.4.2.5).</summary>
    public static byte[] Io(ushort minimum, ushort maximum, byte alignment, byte length) =>
        [IoTag, IoDecode16, (byte)minimum, (byte)(minimum >> 8), (byte)maximum, (byte)(maximum >> 8), alignment, length];

    /// <summary>IRQNoFlags(){irq} (§6.4.2.1): a 16-bit mask, edge-triggered active-high by definition.</summary>
    public static byte[] IrqNoFlags(int irq) => [IrqNoFlagsTag, (byte)(1 << irq), (byte)((1 << irq) >> 8)];

    /// <summary>The descriptors followed by an end tag whose checksum 0 means "treat as correct" (§6.4.2.9).</summary>
    public static byte[] Of(params byte[][] descriptors) => [.. descriptors.SelectMany(d => d), EndTag, 0];
}
