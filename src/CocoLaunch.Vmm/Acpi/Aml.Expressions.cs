namespace CocoLaunch.Vmm.Acpi;

/// <summary>
/// AML operands and expression opcodes (ACPI 6.5 §20.2.5.4, §20.2.6). Operators with a Target take none by default:
/// the NullName, whose result is only the expression's value.
/// </summary>
internal static partial class Aml
{
    private const byte Local0Op = 0x60;
    private const byte Arg0Op = 0x68;
    private const byte DebugOp = 0x31;
    private const byte SubtractOp = 0x74;
    private const byte ShiftLeftOp = 0x79;
    private const byte ShiftRightOp = 0x7A;
    private const byte AndOp = 0x7B;
    private const byte OrOp = 0x7D;
    private const byte DerefOfOp = 0x83;
    private const byte SizeOfOp = 0x87;
    private const byte IndexOp = 0x88;
    private const byte LAndOp = 0x90;
    private const byte LOrOp = 0x91;
    private const byte LNotOp = 0x92;
    private const byte LEqualOp = 0x93;
    private const byte LGreaterOp = 0x94;
    private const byte LLessOp = 0x95;

    private static readonly byte[] NoTarget = [NullName];

    public static byte[] Local(int n) => [(byte)(Local0Op + n)];

    public static byte[] Arg(int n) => [(byte)(Arg0Op + n)];

    public static byte[] Debug() => [ExtOpPrefix, DebugOp];

    public static byte[] Subtract(byte[] a, byte[] b, byte[]? target = null) => [SubtractOp, .. a, .. b, .. target ?? NoTarget];

    public static byte[] ShiftLeft(byte[] value, byte[] count, byte[]? target = null) => [ShiftLeftOp, .. value, .. count, .. target ?? NoTarget];

    public static byte[] ShiftRight(byte[] value, byte[] count, byte[]? target = null) => [ShiftRightOp, .. value, .. count, .. target ?? NoTarget];

    public static byte[] And(byte[] a, byte[] b, byte[]? target = null) => [AndOp, .. a, .. b, .. target ?? NoTarget];

    public static byte[] Or(byte[] a, byte[] b, byte[]? target = null) => [OrOp, .. a, .. b, .. target ?? NoTarget];

    public static byte[] DerefOf(byte[] reference) => [DerefOfOp, .. reference];

    public static byte[] SizeOf(byte[] obj) => [SizeOfOp, .. obj];

    /// <summary>Index(obj, i): a reference to element i of a Package, Buffer or String.</summary>
    public static byte[] Index(byte[] obj, byte[] index) => [IndexOp, .. obj, .. index, .. NoTarget];

    public static byte[] LAnd(byte[] a, byte[] b) => [LAndOp, .. a, .. b];

    public static byte[] LOr(byte[] a, byte[] b) => [LOrOp, .. a, .. b];

    public static byte[] LNot(byte[] a) => [LNotOp, .. a];

    public static byte[] LEqual(byte[] a, byte[] b) => [LEqualOp, .. a, .. b];

    /// <summary>a != b, which AML spells LNot(LEqual(a, b)).</summary>
    public static byte[] LNotEqual(byte[] a, byte[] b) => LNot(LEqual(a, b));

    public static byte[] LGreater(byte[] a, byte[] b) => [LGreaterOp, .. a, .. b];

    public static byte[] LLess(byte[] a, byte[] b) => [LLessOp, .. a, .. b];
}
