namespace CocoLaunch.Vmm.Acpi;

/// <summary>AML statements and control methods (ACPI 6.5 §20.2.5.3, §20.2.5.2): what a Method's body is made of.</summary>
internal static partial class Aml
{
    private const byte MethodOp = 0x14;
    private const byte StoreOp = 0x70;
    private const byte IncrementOp = 0x75;
    private const byte NotifyOp = 0x86;
    private const byte IfOp = 0xA0;
    private const byte ElseOp = 0xA1;
    private const byte WhileOp = 0xA2;
    private const byte ReturnOp = 0xA4;
    private const byte BreakOp = 0xA5;
    private const byte AcquireOp = 0x23;
    private const byte ReleaseOp = 0x27;
    private const byte ToBufferOp = 0x96;
    private const byte ToHexStringOp = 0x98;

    /// <summary>MethodFlags bit 3: the method is Serialized (one thread at a time, §19.6.85).</summary>
    private const byte Serialized = 0x08;

    /// <summary>A Method of <paramref name="argCount"/> arguments (0-7).</summary>
    public static byte[] Method(string name, int argCount, bool serialized, params byte[][] body) =>
        [MethodOp, .. WithPkgLength([.. NameString(name), (byte)(argCount | (serialized ? Serialized : 0)), .. Concat(body)])];

    public static byte[] Store(byte[] source, byte[] target) => [StoreOp, .. source, .. target];

    public static byte[] Increment(byte[] target) => [IncrementOp, .. target];

    public static byte[] Notify(byte[] device, byte[] value) => [NotifyOp, .. device, .. value];

    public static byte[] If(byte[] predicate, params byte[][] body) => [IfOp, .. WithPkgLength([.. predicate, .. Concat(body)])];

    /// <summary>Else: follows the If it belongs to directly.</summary>
    public static byte[] Else(params byte[][] body) => [ElseOp, .. WithPkgLength(Concat(body))];

    public static byte[] While(byte[] predicate, params byte[][] body) => [WhileOp, .. WithPkgLength([.. predicate, .. Concat(body)])];

    public static byte[] Return(byte[] value) => [ReturnOp, .. value];

    public static byte[] Break() => [BreakOp];

    /// <summary>Acquire(mutex, timeout): the timeout is a raw WordData in milliseconds, 0xFFFF waiting forever.</summary>
    public static byte[] Acquire(string mutex, ushort timeout) => [ExtOpPrefix, AcquireOp, .. NameString(mutex), (byte)timeout, (byte)(timeout >> 8)];

    public static byte[] Release(string mutex) => [ExtOpPrefix, ReleaseOp, .. NameString(mutex)];

    public static byte[] ToHexString(byte[] source, byte[] target) => [ToHexStringOp, .. source, .. target];

    public static byte[] ToBuffer(byte[] source, byte[] target) => [ToBufferOp, .. source, .. target];

    /// <summary>A method invocation: the method's name followed by its arguments.</summary>
    public static byte[] Call(string method, params byte[][] args) => [.. NameString(method), .. Concat(args)];

    /// <summary>The terms one after another.</summary>
    public static byte[] Concat(params byte[][] terms)
    {
        var bytes = new byte[terms.Sum(t => t.Length)];
        int at = 0;
        foreach (byte[] term in terms)
        {
            term.CopyTo(bytes, at);
            at += term.Length;
        }

        return bytes;
    }
}
