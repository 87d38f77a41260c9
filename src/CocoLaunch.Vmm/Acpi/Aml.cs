using System.Text;

namespace CocoLaunch.Vmm.Acpi;

/// <summary>
/// AML encodings (ACPI 6.5 §20.2): names, data objects, Name, Scope, Device, Package, Buffer, integers and EISA IDs
/// here; statements, operators and named objects in the other parts. Each method returns the encoded bytes of one
/// term, so a table is its terms concatenated.
/// </summary>
internal static partial class Aml
{
    private const byte ZeroOp = 0x00;
    private const byte NullName = 0x00;
    private const byte OneOp = 0x01;
    private const byte NameOp = 0x08;
    private const byte BytePrefix = 0x0A;
    private const byte WordPrefix = 0x0B;
    private const byte DWordPrefix = 0x0C;
    private const byte QWordPrefix = 0x0E;
    private const byte ScopeOp = 0x10;
    private const byte BufferOp = 0x11;
    private const byte PackageOp = 0x12;
    private const byte ExtOpPrefix = 0x5B;
    private const byte DeviceOp = 0x82;
    private const byte StringPrefix = 0x0D;
    private const byte RootChar = (byte)'\\';

    /// <summary>A NameString of one or more segments (§20.2.2); each segment is padded to four characters with '_'.</summary>
    public static byte[] NameString(string path)
    {
        var bytes = new List<byte>();
        string rest = path;
        if (rest.StartsWith('\\'))
        {
            bytes.Add(RootChar);
            rest = rest[1..];
        }

        if (rest.Length == 0)
        {
            bytes.Add(NullName); // the root itself: "\\" and no segment
            return [.. bytes];
        }

        string[] segments = rest.Split('.');
        if (segments.Length == 2)
        {
            bytes.Add(0x2E); // DualNamePrefix
        }
        else if (segments.Length > 2)
        {
            bytes.Add(0x2F); // MultiNamePrefix
            bytes.Add((byte)segments.Length);
        }

        foreach (string segment in segments)
        {
            bytes.AddRange(Encoding.ASCII.GetBytes(segment.PadRight(4, '_')));
        }

        return [.. bytes];
    }

    /// <summary>The shortest integer encoding (§20.2.3): ZeroOp, OneOp or a prefixed constant.</summary>
    public static byte[] Integer(ulong value) => value switch
    {
        0 => [ZeroOp],
        1 => [OneOp],
        <= byte.MaxValue => [BytePrefix, (byte)value],
        <= ushort.MaxValue => [WordPrefix, .. BitConverter.GetBytes((ushort)value)],
        <= uint.MaxValue => [DWordPrefix, .. BitConverter.GetBytes((uint)value)],
        _ => [QWordPrefix, .. BitConverter.GetBytes(value)],
    };

    /// <summary>
    /// EisaId("PNP0501"): three letters in 5 bits each and four hex digits, stored big-endian in a DWord
    /// (ACPI 6.5 §19.6.35).
    /// </summary>
    public static byte[] EisaId(string id)
    {
        int letters = ((id[0] - 0x40) << 10) | ((id[1] - 0x40) << 5) | (id[2] - 0x40);
        int product = Convert.ToInt32(id[3..], 16);
        byte[] bytes = [(byte)(letters >> 8), (byte)letters, (byte)(product >> 8), (byte)product];
        return [DWordPrefix, .. bytes];
    }

    public static byte[] Name(string name, byte[] value) => [NameOp, .. NameString(name), .. value];

    public static byte[] Scope(string name, params byte[][] terms) => [ScopeOp, .. WithPkgLength([.. NameString(name), .. terms.SelectMany(t => t)])];

    public static byte[] Device(string name, params byte[][] terms) =>
        [ExtOpPrefix, DeviceOp, .. WithPkgLength([.. NameString(name), .. terms.SelectMany(t => t)])];

    public static byte[] Package(params byte[][] elements) =>
        [PackageOp, .. WithPkgLength([(byte)elements.Length, .. elements.SelectMany(e => e)])];

    public static byte[] Buffer(byte[] contents) => [BufferOp, .. WithPkgLength([.. Integer((ulong)contents.Length), .. contents])];

    /// <summary>Package(n){}: n elements, none initialised (each reads as Uninitialized until stored).</summary>
    public static byte[] EmptyPackage(byte count) => [PackageOp, .. WithPkgLength([count])];

    /// <summary>A String: ASCII characters and a NUL (§20.2.3).</summary>
    public static byte[] String(string value) => [StringPrefix, .. Encoding.ASCII.GetBytes(value), 0];

    /// <summary>ToUUID("…"): a 16-byte Buffer in the GUID's mixed-endian byte order (ACPI 6.5 §19.6.142).</summary>
    public static byte[] Uuid(string uuid) => Buffer(new Guid(uuid).ToByteArray());

    /// <summary>A reference to a named object: its NameString alone.</summary>
    public static byte[] Path(string path) => NameString(path);

    /// <summary>
    /// PkgLength (§20.2.4) counts itself: one byte up to 63, else the low nibble in the lead byte (whose bits 7:6 say
    /// how many bytes follow) and the rest eight bits at a time.
    /// </summary>
    private static byte[] WithPkgLength(byte[] body)
    {
        for (int extra = 0; extra <= 3; extra++)
        {
            int total = body.Length + 1 + extra;
            if (extra == 0 && total <= 0x3F)
            {
                return [(byte)total, .. body];
            }

            if (extra > 0 && total < 1 << (4 + (8 * extra)))
            {
                var lead = new byte[1 + extra];
                lead[0] = (byte)((extra << 6) | (total & 0x0F));
                for (int i = 1; i <= extra; i++)
                {
                    lead[i] = (byte)(total >> (4 + (8 * (i - 1))));
                }

                return [.. lead, .. body];
            }
        }

        throw new ArgumentException("AML package longer than 2^28 bytes", nameof(body));
    }
}
